import { ConfigError, loadConfig } from '../../src/config';

/* Hot and cold orders (issue 14): the ARCHIVE_* variables, their defaults and their limits. */

const load = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', ...env }).archive;

test('defaults: finished orders move 90 days after their last change, 500 per batch, no pause', () => {
  expect(load({})).toEqual({ afterSeconds: 90 * 86_400, batchSize: 500, batchPauseMs: 0 });
});

test('ARCHIVE_AFTER_SECONDS wins over ARCHIVE_AFTER_DAYS; 0 days turns archiving off', () => {
  expect(load({ ARCHIVE_AFTER_DAYS: '30', ARCHIVE_AFTER_SECONDS: '5' }).afterSeconds).toBe(5);
  expect(load({ ARCHIVE_AFTER_DAYS: '30' }).afterSeconds).toBe(30 * 86_400);
  expect(load({ ARCHIVE_AFTER_DAYS: '0' }).afterSeconds).toBe(0);
  expect(load({ ARCHIVE_BATCH_SIZE: '2000', ARCHIVE_BATCH_PAUSE_MS: '50' })).toMatchObject({
    batchSize: 2000,
    batchPauseMs: 50,
  });
});

test('an archive age inside the after-sale window, or a bad value, is a configuration error', () => {
  expect(() => load({ ARCHIVE_AFTER_DAYS: '10' })).toThrow(/more than AFTER_SALE_WINDOW_DAYS \(14\)/);
  expect(() => load({ ARCHIVE_AFTER_DAYS: '20', AFTER_SALE_WINDOW_DAYS: '30' })).toThrow(ConfigError);
  expect(() => load({ ARCHIVE_BATCH_SIZE: '0' })).toThrow(/ARCHIVE_BATCH_SIZE must be between 1 and 10000/);
  expect(() => load({ ARCHIVE_AFTER_DAYS: 'soon' })).toThrow(/ARCHIVE_AFTER_DAYS must be an integer/);
});
