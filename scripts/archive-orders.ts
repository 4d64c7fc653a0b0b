import 'reflect-metadata';
import { loadConfig } from '../src/config';
import { connectOrm } from '../src/db/orm';
import { entities } from '../src/modules/entities';
import { ArchiveService } from '../src/modules/archive/archive.service';

/**
 * Archives every order that is due now (`npm run archive`), batch after batch, and prints what it
 * moved and the table sizes: the same work as the server's `orders.archive` cron job, for a first
 * run over a large backlog or a maintenance window. Needs DATABASE_URL; reads the ARCHIVE_*
 * variables (docs/archive.md). Stopping it at any moment (even kill -9) loses nothing: each batch
 * is one transaction.
 */
async function main() {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required');
  const orm = await connectOrm({
    url: config.databaseUrl,
    entities,
    poolSize: 2,
    logger: () => undefined,
    timeouts: config.dbTimeouts,
    admin: true, // a batch waits for rows a request holds rather than failing
  });
  try {
    const archive = new ArchiveService(config.archive);
    if (!archive.enabled) throw new Error('archiving is off (ARCHIVE_AFTER_DAYS=0)');
    const run = await archive.archiveDue(orm.em.fork() as never);
    const sizes = await archive.sizes(orm.em.fork() as never);
    console.log(JSON.stringify({ ...run, ...sizes }));
  } finally {
    await orm.close(true);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
