import 'reflect-metadata';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { connectOrm, migrate } from '../src/db/orm';
import { entities } from '../src/modules/entities';

/**
 * Applies pending migrations (`npm run migrate`): to DATABASE_URL, or the embedded database in
 * DATA_DIR. The server also migrates at start; this is for deploy pipelines that migrate first.
 */
async function main() {
  const config = loadConfig();
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(join(config.dataDir, 'pg'));
  const orm = await connectOrm({
    url: config.databaseUrl ?? embedded!.url,
    entities,
    poolSize: 2,
    logger: (m) => console.log(m),
    timeouts: config.dbTimeouts,
    admin: true, // long statements and lock waits are expected here
  });
  try {
    await migrate(orm);
  } finally {
    await orm.close(true);
    await embedded?.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
