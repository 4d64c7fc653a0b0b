import { retryDelayMs } from '../../src/db/transaction';

describe('inTransaction retry backoff (deadlocks, serialization failures)', () => {
  test('is random within a window that doubles per attempt, capped at 500 ms', () => {
    expect(retryDelayMs(1, () => 0)).toBe(0);
    expect(retryDelayMs(1, () => 0.999)).toBe(19);
    expect(retryDelayMs(2, () => 0.999)).toBe(39);
    expect(retryDelayMs(4, () => 0.999)).toBe(159);
    expect(retryDelayMs(10, () => 0.999)).toBe(499);
  });

  test('two transactions that collided rarely wait the same time (jitter)', () => {
    const delays = Array.from({ length: 200 }, () => retryDelayMs(3));
    expect(new Set(delays).size).toBeGreaterThan(20);
    expect(Math.max(...delays)).toBeLessThan(80);
  });
});
