import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import pino, { type Logger } from 'pino';
import type { Config } from './config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded';
import { connectOrm, migrate } from './db/orm';
import { sqlAll } from './db/sql';
import { generateCatalog } from './modules/catalog/demo-data';
import { buildAppSchema } from './server/schema';
import { startHttp, type RunningHttp } from './server/http';
import { createMetrics } from './server/metrics';
import { createServices, type Services } from './server/services';

export interface App {
  config: Config;
  orm: MikroORM;
  services: Services;
  http: RunningHttp;
  url: string;
  log: Logger;
  stop(): Promise<void>;
}

export const DEMO_PRODUCTS = 1200;

/**
 * Starts everything the configuration asks for: the embedded PostgreSQL when no DATABASE_URL is
 * set, migrations, the bootstrap admin, demo data on an empty embedded database, and the server.
 */
export async function startApp(config: Config, log: Logger = pino({ level: config.logLevel })): Promise<App> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    log.info({ dir: join(config.dataDir, 'pg') }, 'starting embedded PostgreSQL');
    embedded = await startEmbeddedPostgres(join(config.dataDir, 'pg'), (line) => log.debug({ pg: line }));
    url = embedded.url;
  }
  const orm = await connectOrm({ url, replicaUrls: config.databaseReplicaUrls, poolSize: config.dbPoolSize, logger: (m) => log.info(m.replace(/\x1b\[[0-9;]*m/g, '')) });
  try {
    await migrate(orm);
    const services = createServices(config);
    const em = orm.em.fork();

    const admin = await services.identity.ensureAdmin(em as any, config.adminEmail, config.adminPassword);
    if (admin.password) {
      log.warn(`bootstrap admin created: ${config.adminEmail} / ${admin.password} (shown once; set ADMIN_PASSWORD to choose it)`);
    }

    if (config.demoData) {
      const [{ n }] = await sqlAll<{ n: number }>(em as any, 'select count(*)::int as n from product');
      if (n === 0) {
        log.info(`loading the demo catalog (${DEMO_PRODUCTS} products)`);
        const logins = await generateCatalog(em as any, services.identity, { products: DEMO_PRODUCTS });
        log.warn(`demo logins: ${logins.map((l) => `${l.role} ${l.email} / ${l.password}`).join('; ')}`);
      }
    }

    const http = await startHttp({ config, orm, schema: buildAppSchema(), services, log, metrics: createMetrics() });
    const app: App = {
      config,
      orm,
      services,
      http,
      log,
      url: `http://127.0.0.1:${http.port}/graphql`,
      async stop() {
        await http.close();
        await orm.close();
        await embedded?.stop();
      },
    };
    return app;
  } catch (e) {
    await orm.close();
    await embedded?.stop();
    throw e;
  }
}
