import 'reflect-metadata';
import { join } from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfig } from '../src/config';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { connectOrm, migrate } from '../src/db/orm';
import { entities } from '../src/modules/entities';
import { SellerProjector } from '../src/modules/seller/seller.projector';
import { createLogger } from '../src/server/protection/log';

/**
 * Rebuilds the seller-side store from scratch (`npm run seller-store:rebuild`): to DATABASE_URL, or
 * the embedded database in DATA_DIR. Safe while servers run: their consumers wait for it, merchant
 * lists wait for it, and the consumers continue from the rebuilt position (docs/seller-store.md).
 */
async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(join(config.dataDir, 'pg'));
  const orm = await connectOrm({
    url: config.databaseUrl ?? embedded!.url,
    entities,
    poolSize: 2,
    logger: (m) => log.info(m),
    timeouts: config.dbTimeouts,
    admin: true, // one long transaction and a table lock are expected here
  });
  try {
    await migrate(orm);
    const started = Date.now();
    const r = await new SellerProjector(config.sellerStore.intervalMs, log).rebuild(
      orm.em.fork() as EntityManager,
    );
    console.log(
      `seller store rebuilt: ${r.orders} orders, ${r.events} events, position ${r.position}, in ${Date.now() - started} ms`,
    );
  } finally {
    await orm.close(true);
    await embedded?.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
