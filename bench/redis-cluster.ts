import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { freePort } from '../src/db/embedded';
import { RedisEventBus, type PublishedEvent } from '../src/modules/events/event-bus';
import { RedisStore } from '../src/shared/cache/redis-store';
import { connectRedis, whenReady } from '../src/shared/redis';
import { startRedisCluster } from '../test/support/redis-cluster';
import { percentile } from './lib';

/**
 * BENCH_ONLY=redis: the Redis uses on a 3-master Redis Cluster against one redis-server (the
 * baseline), both on this machine, started here: a 200-key cache read (one MGET against 200
 * auto-pipelined GETs over three nodes), a rate-limit count (one Lua script on one key), and an
 * event batch from publish to delivery (PUBLISH against sharded SPUBLISH). Sequential round
 * trips: the figures are latencies, and the ratio is what counts.
 */
const ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 500);
const log = pino({ level: 'silent' });
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
};

async function standalone(): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const probe = connectRedis(url, { purpose: 'bench', retryStrategy: (n) => (n > 50 ? null : 100) });
  await whenReady(probe, 10_000);
  probe.disconnect();
  return { url, stop: () => child.kill('SIGKILL') };
}

async function measure(url: string): Promise<Record<string, { p50: number; p99: number }>> {
  const out: Record<string, { p50: number; p99: number }> = {};

  const store = new RedisStore(url, `bench:${randomBytes(4).toString('hex')}:`, log, 5000);
  await store.start();
  const keys = Array.from({ length: 200 }, (_, i) => `product:${i}`);
  const far = Date.now() + 3_600_000;
  await store.write(keys.map((key) => ({ key, entry: { v: { title: key }, f: far, s: far } })));
  const reads: number[] = [];
  for (let i = 0; i < 50; i++) await store.read(keys); // connections to every node, JIT
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    const { entries } = await store.read(keys);
    reads.push(ms(t0));
    if (entries.some((e) => !e)) throw new Error('cache entry missing');
  }
  out['cache read, 200 keys'] = summary(reads);
  await store.close();

  const client = connectRedis(url, { purpose: 'bench', maxRetriesPerRequest: 1 });
  await whenReady(client, 10_000);
  const limiter = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: `bench:rl:${randomBytes(4).toString('hex')}`,
    points: 1e9,
    duration: 60,
  });
  const counts: number[] = [];
  for (let i = 0; i < 100; i++) await limiter.consume(`warm-${i}`);
  for (let i = 0; i < ROUNDS * 4; i++) {
    const t0 = process.hrtime.bigint();
    await limiter.consume(`user-${i % 100}`);
    counts.push(ms(t0));
  }
  out['rate-limit count'] = summary(counts);
  client.disconnect();

  const pub = new RedisEventBus(url, log);
  const sub = new RedisEventBus(url, log);
  await Promise.all([pub.start(), sub.start()]);
  let arrived: (() => void) | undefined;
  sub.listen({ onEvents: () => arrived?.(), onGap: () => undefined });
  const batch: PublishedEvent[] = Array.from({ length: 10 }, (_, i) => ({
    id: String(i),
    orderId: '1',
    buyerId: '2',
    merchantId: '3',
    seq: i,
    pos: i,
    type: 'STATUS_CHANGED',
    status: 'PAID',
    shipmentId: null,
    afterSaleId: null,
    occurredAt: new Date().toISOString(),
  }));
  const events: number[] = [];
  for (let i = 0; i < ROUNDS + 50; i++) {
    const t0 = process.hrtime.bigint();
    const got = new Promise<void>((r) => (arrived = r));
    await pub.publish(batch);
    await got;
    if (i >= 50) events.push(ms(t0));
  }
  out['event batch, publish to delivery'] = summary(events);
  await Promise.all([pub.close(), sub.close()]);
  return out;
}

export async function redisClusterBench(): Promise<void> {
  const [one, cluster] = await Promise.all([standalone(), startRedisCluster()]);
  try {
    const base = await measure(one.url);
    const clustered = await measure(cluster.url);
    console.log(`\n## Redis: one redis-server (baseline) vs a 3-master Redis Cluster, ${ROUNDS} rounds\n`);
    console.log('| operation | one Redis p50 / p99 ms | cluster p50 / p99 ms | p50 ratio |');
    console.log('|---|---|---|---|');
    for (const [name, b] of Object.entries(base)) {
      const c = clustered[name];
      console.log(
        `| ${name} | ${b.p50.toFixed(3)} / ${b.p99.toFixed(3)} | ${c.p50.toFixed(3)} / ${c.p99.toFixed(3)} | ${(c.p50 / b.p50).toFixed(2)} |`,
      );
    }
  } finally {
    one.stop();
    await cluster.stop();
  }
}
