import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { keysFor, SCRIPTS } from '../../src/modules/flashsale/flashsale.redis';

/** The flash-sale variables: defaults, parsing, and a clear error naming a bad one. */

const dir = mkdtempSync(join(tmpdir(), 'flash-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const load = (env: Record<string, string> = {}) => loadConfig({ DATA_DIR: dir, ...env });

test('defaults: a 300 s payment window, a waiting list as long as the sale, a worker in every process', () => {
  expect(load().flashSale).toEqual({
    paymentWindowSeconds: 300,
    waitlistPercent: 100,
    batchSize: 200,
    workerIntervalMs: 100,
    worker: true,
    redisPrefix: 'fs',
    acceptWaitMs: 1000,
  });
});

test('every variable is read', () => {
  expect(
    load({
      FLASH_SALE_PAYMENT_WINDOW_SECONDS: '60',
      FLASH_SALE_WAITLIST_PERCENT: '0',
      FLASH_SALE_BATCH_SIZE: '50',
      FLASH_SALE_WORKER_INTERVAL_MS: '20',
      FLASH_SALE_WORKER: 'false',
      FLASH_SALE_REDIS_PREFIX: 'shop-eu',
      FLASH_SALE_ACCEPT_WAIT_MS: '250',
    }).flashSale,
  ).toEqual({
    paymentWindowSeconds: 60,
    waitlistPercent: 0,
    batchSize: 50,
    workerIntervalMs: 20,
    worker: false,
    redisPrefix: 'shop-eu',
    acceptWaitMs: 250,
  });
});

test.each([
  ['FLASH_SALE_PAYMENT_WINDOW_SECONDS', '0'],
  ['FLASH_SALE_PAYMENT_WINDOW_SECONDS', 'soon'],
  ['FLASH_SALE_WAITLIST_PERCENT', '-1'],
  ['FLASH_SALE_BATCH_SIZE', '0'],
  ['FLASH_SALE_WORKER_INTERVAL_MS', '1'],
  ['FLASH_SALE_WORKER', 'maybe'],
  ['FLASH_SALE_REDIS_PREFIX', 'has space'],
  ['FLASH_SALE_REDIS_PREFIX', 'a{b}'],
  ['FLASH_SALE_ACCEPT_WAIT_MS', '10'],
])('%s=%s is refused, naming the variable', (name, value) => {
  expect(() => load({ [name]: value })).toThrow(ConfigError);
  expect(() => load({ [name]: value })).toThrow(name);
});

/*
 * Redis Cluster runs a script only if every key it touches is passed in KEYS and all of them hash
 * to one slot: the scripts build no key themselves, and a sale's keys share one hash tag.
 */
test("a sale's Redis keys share one hash tag, and every script touches only the keys it is given", () => {
  const keys = keysFor('shop-eu')('42');
  expect(keys).toHaveLength(4);
  for (const k of keys) expect(/\{([^}]*)\}/.exec(k)?.[1]).toBe('42');
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    const calls = [...lua.matchAll(/redis\.call\(\s*'([A-Z]+)'\s*,\s*([^,)]+)/g)];
    expect(calls.length).toBeGreaterThan(0);
    for (const [, command, key] of calls)
      expect(`${name} ${command} ${key.trim()}`).toMatch(/ KEYS\[[1-4]\]$/);
    // DEL names several keys: each one from KEYS as well.
    for (const del of lua.matchAll(/redis\.call\('DEL',([^)]*)\)/g))
      for (const k of del[1].split(',')) expect(k.trim()).toMatch(/^KEYS\[[1-4]\]$/);
  }
});
