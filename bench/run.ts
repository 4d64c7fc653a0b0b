// First: the benches load modules with type-graphql decorators (e.g. the order store), which need it.
import 'reflect-metadata';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded';
import { checkoutBench } from './checkout';
import { edgeBench } from './edge';
import { flashSaleBench } from './flash-sale';
import { moneyPathBench } from './money-path';
import { ROOT } from './lib';
import { paymentBench } from './payment';
import { persistedBench } from './persisted';
import { productPageBench } from './product-page';
import { protectionBench } from './protection';
import { redisClusterBench } from './redis-cluster';
import { searchBench } from './search';
import { subscriptionsBench } from './subscriptions';
import { webhooksBench } from './webhooks';
import { tracingBench } from './tracing';
import { archiveBench } from './archive';
import { replicasBench } from './replicas';

/**
 * `npm run bench`: each benchmark against a baseline measured in the same run on the same machine.
 *
 * Env: BENCH_ONLY (search | checkout | payment | subscriptions | edge | product | webhooks | tracing | protection | archive | replicas | persisted | flashsale | redis | money-path), BENCH_PRODUCTS (100000), BENCH_DURATION seconds per run (15),
 * BENCH_CONNECTIONS (20, search), BENCH_DATABASE_URL (a server whose `postgres` database the
 * benchmarks may use and create databases in; else an embedded PostgreSQL in .data/bench, whose
 * seeded catalog is reused by later runs). Product page: BENCH_PAGE_PRODUCTS (5000), BENCH_PAGE_SLUGS (500),
 * BENCH_REDIS_URL (adds a run with the catalog cache in Redis). Archive (bench/archive.ts): BENCH_ARCHIVE_ORDERS
 * (1000000), BENCH_ARCHIVE_ROUNDS (5), BENCH_ARCHIVE_BACKLOG (200000), BENCH_ARCHIVE_CONCURRENCY (20). Replicas (PostgreSQL 15 primary and
 * replica of its own, from PG_BIN): BENCH_REPLICA_PRODUCTS (20000).
 */
async function main() {
  if (!existsSync(join(ROOT, 'dist/scripts/seed.js'))) throw new Error('run `npm run build` first');
  let url = process.env.BENCH_DATABASE_URL;
  let stop = async () => undefined as void;
  if (!url) {
    const dir = join(ROOT, '.data', 'bench');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const db = await startEmbeddedPostgres(join(dir, 'pg'));
    url = db.url;
    stop = db.stop;
  }
  const only = process.env.BENCH_ONLY;
  try {
    if (!only || only === 'search') await searchBench(url);
    if (!only || only === 'checkout') await checkoutBench(url);
    if (!only || only === 'payment') await paymentBench(url);
    if (!only || only === 'subscriptions') await subscriptionsBench(url);
    if (!only || only === 'edge') await edgeBench(url);
    if (!only || only === 'product') await productPageBench(url);
    if (!only || only === 'webhooks') await webhooksBench(url);
    if (!only || only === 'tracing') await tracingBench(url);
    if (!only || only === 'protection') await protectionBench(url);
    if (!only || only === 'archive') await archiveBench(url);
    if (!only || only === 'replicas') await replicasBench();
    if (!only || only === 'persisted') await persistedBench(url);
    if (!only || only === 'flashsale') await flashSaleBench(url);
    if (!only || only === 'redis') await redisClusterBench();
    if (!only || only === 'money-path') await moneyPathBench(url);
  } finally {
    await stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
