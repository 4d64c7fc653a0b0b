import 'reflect-metadata';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { connectOrm, migrate } from '../src/db/orm';
import { entities } from '../src/modules/entities';
import { generateCatalog } from '../src/modules/catalog/demo-data';
import { IdentityService } from '../src/modules/identity/identity.service';
import { TokenService } from '../src/modules/identity/token';

/**
 * Generates a large catalog for benchmarks: `npm run seed -- --products 100000`.
 * Uses DATABASE_URL, or the embedded database in DATA_DIR like `npm start`.
 */
async function main() {
  const arg = process.argv.indexOf('--products');
  const products = arg > 0 ? Number(process.argv[arg + 1]) : 100_000;
  if (!Number.isInteger(products) || products < 1) throw new Error('--products must be a positive integer');
  const config = loadConfig();
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(join(config.dataDir, 'pg'));
  // An admin script: its long inserts must not hit the server's statement timeout.
  const orm = await connectOrm({
    url: config.databaseUrl ?? embedded!.url,
    entities,
    timeouts: config.dbTimeouts,
    admin: true,
  });
  try {
    await migrate(orm);
    const started = Date.now();
    const logins = await generateCatalog(
      orm.em.fork() as any,
      new IdentityService(new TokenService(config.jwtSecret, config.tokenTtlSeconds)),
      {
        products,
        onProgress: (done) => process.stdout.write(`\r${done}/${products} products`),
      },
    );
    console.log(`\nseeded ${products} products in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const l of logins) console.log(`${l.role}: ${l.email} / ${l.password}`);
  } finally {
    await orm.close();
    await embedded?.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
