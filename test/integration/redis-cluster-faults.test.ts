import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { RedisKeyValueCache } from '../../src/server/apq-cache';
import { Protection } from '../../src/server/protection';
import { RedisStore } from '../../src/shared/cache/redis-store';
import { SharedCache } from '../../src/shared/cache/shared-cache';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster';

/*
 * The parts that must answer at once whatever Redis does (rate limits, the APQ store, the cache),
 * on a real 3-master Redis Cluster that is then lost as a whole: each falls back (the in-memory
 * limiter, a miss, the loader) within seconds instead of waiting for the cluster to come back.
 */
const log = pino({ level: 'silent' });
let cluster: RedisClusterHandle;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await Promise.all(closers.map((c) => c().catch(() => undefined)));
  await cluster?.stop();
});

const protection = () => {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'cluster-faults-')),
    REDIS_URL: cluster.url,
    RATE_LIMIT_USER_PER_MINUTE: '3',
  });
  const p = new Protection(config, log);
  closers.push(() => p.close());
  return p;
};

/** The value, or 'hung' when it takes longer than `ms`. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms).unref())]);

test('on the cluster: two processes share a user window; when the cluster is lost everything falls back at once', async () => {
  const [a, b] = [protection(), protection()];
  const user = { kind: 'user' as const, id: `u-${Date.now()}` };
  const allowed = [];
  for (const p of [a, b, a, b]) allowed.push((await p.limits.consume(user)).allowed);
  expect(allowed).toEqual([true, true, true, false]);

  const apq = RedisKeyValueCache.connect(cluster.url, log);
  closers.push(() => apq.close());
  await apq.set('apq:abc', '{ categories { id } }');
  expect(await apq.get('apq:abc')).toBe('{ categories { id } }');

  const store = new RedisStore(cluster.url, 't:faults:', log, 500);
  await store.start();
  const cache = new SharedCache(store, log);
  closers.push(() => cache.close());
  const ns = cache.namespace<string>('p', { freshMs: 60_000, staleMs: 60_000 });
  let loads = 0;
  const load = async () => (loads++, 'from the database');
  await ns.get('1', load);
  await ns.get('1', load);
  expect(loads).toBe(1);

  await cluster.stop();
  const t0 = Date.now();
  // A new user: the in-memory insurance limiter counts it (the Redis window is out of reach).
  const fallback = await within(a.limits.consume({ kind: 'user', id: `v-${Date.now()}` }), 10_000);
  expect(fallback).not.toBe('hung');
  expect(fallback !== 'hung' && fallback.allowed).toBe(true);
  expect(await within(apq.get('apq:abc'), 10_000)).toBeUndefined();
  expect(await within(ns.get('2', load), 10_000)).toBe('from the database');
  expect(Date.now() - t0).toBeLessThan(10_000);
});
