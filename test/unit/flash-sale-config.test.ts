import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

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
    }).flashSale,
  ).toEqual({
    paymentWindowSeconds: 60,
    waitlistPercent: 0,
    batchSize: 50,
    workerIntervalMs: 20,
    worker: false,
    redisPrefix: 'shop-eu',
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
])('%s=%s is refused, naming the variable', (name, value) => {
  expect(() => load({ [name]: value })).toThrow(ConfigError);
  expect(() => load({ [name]: value })).toThrow(name);
});
