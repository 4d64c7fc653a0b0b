import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { RedisStore } from '../../src/shared/cache/redis-store';
import { SharedCache, type NamespaceOptions } from '../../src/shared/cache/shared-cache';
import { MemoryStore, type CacheStore } from '../../src/shared/cache/store';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster';

/**
 * The generic cache on both stores: this process's bounded memory and a real Redis
 * (TEST_REDIS_URL, started by the test setup), and the Redis store again on a 3-master Redis
 * Cluster (its keys spread over slots of every node). Loads are counted by the loaders themselves.
 */

const log = pino({ level: process.env.CACHE_TEST_LOG ?? 'silent' });
const redisUrl = () => {
  const url = process.env.TEST_REDIS_URL;
  if (!url)
    throw new Error('TEST_REDIS_URL is unset: run through jest (the global setup starts redis-server)');
  return url;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Kind = 'memory' | 'redis' | 'redis-cluster';
const opened: SharedCache[] = [];
let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await cluster?.stop();
});

async function redisStore(kind: Kind, prefix: string): Promise<RedisStore> {
  const s = new RedisStore(kind === 'redis-cluster' ? cluster.url : redisUrl(), prefix, log);
  await s.start();
  return s;
}

async function makeCache(kind: Kind, prefix = `t:${randomBytes(4).toString('hex')}:`) {
  const store: CacheStore = kind === 'memory' ? new MemoryStore(10_000) : await redisStore(kind, prefix);
  const cache = new SharedCache(store, log);
  opened.push(cache);
  return { cache, prefix };
}

/** A source of truth whose reads are counted and can be slowed down. */
function source<V>(initial: V, delayMs = 20) {
  const s = {
    value: initial,
    reads: 0,
    delayMs,
    load: async () => {
      s.reads++;
      const v = s.value;
      await sleep(s.delayMs);
      return v;
    },
  };
  return s;
}

const LONG: NamespaceOptions = { freshMs: 60_000, staleMs: 60_000 };

describe.each(['memory', 'redis', 'redis-cluster'] as const)('%s store', (kind) => {
  test('1,000 concurrent misses of one key make one load, and every caller gets its value', async () => {
    const { cache } = await makeCache(kind);
    const ns = cache.namespace<{ title: string }>('product', LONG);
    const src = source({ title: 'Kettle' }, 50);
    const results = await Promise.all(Array.from({ length: 1000 }, () => ns.get('42', src.load)));
    expect(src.reads).toBe(1);
    expect(results.every((r) => r?.title === 'Kettle')).toBe(true);
    // Then hits: still one load.
    await Promise.all(Array.from({ length: 100 }, () => ns.get('42', src.load)));
    expect(src.reads).toBe(1);
  });

  test('getMany loads only the missing keys, in one call, and caches "not found"', async () => {
    const { cache } = await makeCache(kind);
    const ns = cache.namespace<string>('thing', LONG);
    const calls: string[][] = [];
    const load = async (keys: string[]) => {
      calls.push([...keys].sort());
      return new Map(keys.filter((k) => k !== 'nope').map((k) => [k, `v${k}`]));
    };
    expect(Object.fromEntries(await ns.getMany(['1', '2'], load))).toEqual({ '1': 'v1', '2': 'v2' });
    expect(Object.fromEntries(await ns.getMany(['2', '3', 'nope'], load))).toEqual({
      '2': 'v2',
      '3': 'v3',
      nope: null,
    });
    await ns.getMany(['nope', '1'], load);
    expect(calls).toEqual([
      ['1', '2'],
      ['3', 'nope'],
    ]);
  });

  test('stale while revalidate: a stale value is served at once, one refresh replaces it', async () => {
    const { cache } = await makeCache(kind);
    const ns = cache.namespace<string>('swr', { freshMs: 1000, staleMs: 30_000 });
    const src = source('v1', 10);
    expect(await ns.get('k', src.load)).toBe('v1');
    await sleep(1100); // now stale
    src.value = 'v2';
    src.delayMs = 1500; // a slow database: the refresh takes 1.5 s
    const started = Date.now();
    const stale = await Promise.all(Array.from({ length: 50 }, () => ns.get('k', src.load)));
    // Served from the cache without waiting for the refresh.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(new Set(stale)).toEqual(new Set(['v1']));
    await sleep(1700);
    expect(await ns.get('k', src.load)).toBe('v2');
    expect(src.reads).toBe(2); // the first load and exactly one refresh
  });

  test('an invalidated key is never served stale; a load in flight during the invalidation is not stored', async () => {
    const { cache } = await makeCache(kind);
    const ns = cache.namespace<string>('inv', LONG);
    const src = source('old', 200);
    expect(await ns.get('k', src.load)).toBe('old');
    src.value = 'new';
    await ns.invalidate(['k']);
    expect(await ns.get('k', src.load)).toBe('new');

    // A slow load reads 'new'; the value changes and is invalidated while it runs.
    await ns.invalidate(['k']);
    const inFlight = ns.get('k', src.load);
    await sleep(50);
    src.value = 'newer';
    await ns.invalidate(['k']);
    expect(await inFlight).toBe('new'); // its callers get what it read…
    expect(await ns.get('k', src.load)).toBe('newer'); // …but it was not kept
  });

  test('a generational namespace is dropped as a whole', async () => {
    const { cache } = await makeCache(kind);
    const ns = cache.namespace<string>('pages', { ...LONG, generational: true });
    const src = source('p1', 1);
    await ns.get('a', src.load);
    await ns.get('b', src.load);
    expect(src.reads).toBe(2);
    await ns.get('a', src.load);
    expect(src.reads).toBe(2);
    await ns.invalidateAll();
    await ns.get('a', src.load);
    await ns.get('b', src.load);
    expect(src.reads).toBe(4);
  });
});

test('memory store: the bound holds, least recently used entries go first', async () => {
  const store = new MemoryStore(100);
  const cache = new SharedCache(store, log);
  const ns = cache.namespace<number>('n', LONG);
  const load = async (keys: string[]) => new Map(keys.map((k) => [k, Number(k)]));
  await ns.getMany(['0'], load);
  for (let i = 1; i < 1000; i++) {
    await ns.getMany([String(i)], load);
    if (i % 10 === 0) await ns.getMany(['0'], load); // keep key 0 in use
    expect(store.size).toBeLessThanOrEqual(100);
  }
  expect(store.size).toBe(100);
  expect((await ns.peek(['0', '999', '1'])).size).toBe(2); // 0 and 999 are there, 1 was evicted
  expect((await ns.peek(['1'])).has('1')).toBe(false);
});

describe.each(['redis', 'redis-cluster'] as const)('%s: two processes (two caches on one Redis)', (kind) => {
  test('an invalidation in one is seen by the other at once; generations too', async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    const a = (await makeCache(kind, prefix)).cache.namespace<string>('product', LONG);
    const b = (await makeCache(kind, prefix)).cache.namespace<string>('product', LONG);
    const src = source('v1', 1);
    expect(await a.get('7', src.load)).toBe('v1');
    expect(await b.get('7', src.load)).toBe('v1');
    expect(src.reads).toBe(1); // b read a's entry
    src.value = 'v2';
    const t0 = Date.now();
    await a.invalidate(['7']);
    expect(await b.get('7', src.load)).toBe('v2');
    expect(Date.now() - t0).toBeLessThan(1000);

    const pa = (await makeCache(kind, prefix)).cache.namespace<string>('pages', {
      ...LONG,
      generational: true,
    });
    const pb = (await makeCache(kind, prefix)).cache.namespace<string>('pages', {
      ...LONG,
      generational: true,
    });
    const page = source('page1', 1);
    await pa.get('q', page.load);
    expect(await pb.get('q', page.load)).toBe('page1');
    page.value = 'page2';
    await pb.invalidateAll();
    expect(await pa.get('q', page.load)).toBe('page2');
  });

  test('200 keys in one read (slots on every node of a cluster): stored by one, read by the other, dropped together', async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    const a = (await makeCache(kind, prefix)).cache.namespace<string>('many', LONG);
    const b = (await makeCache(kind, prefix)).cache.namespace<string>('many', LONG);
    const keys = Array.from({ length: 200 }, (_, i) => String(i));
    let version = 'v1';
    const loaded: string[] = [];
    const load = async (ks: string[]) => {
      loaded.push(...ks);
      return new Map(ks.map((k) => [k, `${version}:${k}`]));
    };
    expect((await a.getMany(keys, load)).get('199')).toBe('v1:199');
    expect(loaded.length).toBe(200);
    const fromB = await b.getMany(keys, load);
    expect(loaded.length).toBe(200); // all 200 read from Redis
    expect([...fromB.values()]).toEqual(keys.map((k) => `v1:${k}`));
    version = 'v2';
    await a.invalidate(keys.slice(0, 100));
    const after = await b.getMany(keys, load);
    expect(loaded.length).toBe(300); // exactly the 100 dropped keys were loaded again
    expect(after.get('0')).toBe('v2:0');
    expect(after.get('150')).toBe('v1:150');
  });

  test('an invalidation heard from another process keeps this one from storing a load it had in flight', async () => {
    const prefix = `t:${randomBytes(4).toString('hex')}:`;
    const a = (await makeCache(kind, prefix)).cache.namespace<string>('product', LONG);
    const b = (await makeCache(kind, prefix)).cache.namespace<string>('product', LONG);
    const src = source('before', 300);
    const slow = a.get('9', src.load); // a reads 'before', slowly
    await sleep(50);
    src.value = 'after';
    await b.invalidate(['9']); // b's write committed: published to a while a's load runs
    expect(await slow).toBe('before');
    await sleep(700); // past b's second delete
    src.delayMs = 1;
    expect(await b.get('9', src.load)).toBe('after');
  });

  test('Redis unreachable: reads fall back to the loader, nothing throws', async () => {
    const store = new RedisStore('redis://127.0.0.1:1', 't:down:', log, 100);
    const cache = new SharedCache(store, log);
    opened.push(cache);
    const ns = cache.namespace<string>('x', LONG);
    const src = source('db', 1);
    expect(await ns.get('k', src.load)).toBe('db');
    expect(await ns.get('k', src.load)).toBe('db');
    expect(src.reads).toBe(2);
    await ns.invalidate(['k']);
  });
});
