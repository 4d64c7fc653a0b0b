import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { readClientOf } from '../../src/db/read-routing';
import { formatLsn, parseLsn } from '../../src/db/lsn';
import { lagMs } from '../../src/db/replica-probe';
import { MemoryWriteLsnStore } from '../../src/db/write-lsn-store';

/** The pure parts of replica routing (issue 14); test/integration/replicas.test.ts runs a real replica. */

test('LSNs parse to ordered numbers and print back', () => {
  expect(parseLsn('0/0')).toBe(0n);
  expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
  expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
  expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
  expect(() => parseLsn('nonsense')).toThrow('not an LSN');
});

describe('lag: the age of the oldest primary position the replica has not replayed', () => {
  const samples = [
    { at: 1_000, lsn: 100n },
    { at: 2_000, lsn: 200n },
    { at: 3_000, lsn: 300n },
  ];
  test.each([
    [300n, 0], // has everything the primary had
    [250n, 5_000 - 3_000], // misses what was written after 2 s
    [200n, 5_000 - 3_000],
    [150n, 5_000 - 2_000],
    [100n, 5_000 - 2_000],
  ])('replayed %s at 5 s: %s ms', (replayed, expected) => {
    expect(lagMs(replayed, samples, 5_000)).toBe(expected);
  });
  test('behind the whole history (or right after start-up): unknown, never read', () => {
    expect(lagMs(99n, samples, 5_000)).toBe(Infinity);
    expect(lagMs(0n, [], 5_000)).toBe(0); // no history at all: nothing known to be missing
  });
  test('an idle primary does not make a caught-up replica look stale', () => {
    expect(lagMs(100n, [{ at: 0, lsn: 100n }], 60_000)).toBe(0);
  });
});

describe('the in-memory write store', () => {
  let now = 0;
  const store = () => new MemoryWriteLsnStore(1_000, 3, () => now);

  test('keeps the larger position, and forgets it after the window', async () => {
    now = 0;
    const s = store();
    await s.record('user:1', 500n);
    await s.record('user:1', 400n); // a slower request of the same client recorded later
    expect(await s.get('user:1')).toBe(500n);
    now = 999;
    expect(await s.get('user:1')).toBe(500n);
    now = 1_000;
    expect(await s.get('user:1')).toBeNull();
    expect(await s.get('user:2')).toBeNull();
  });

  test('is bounded: the least recently written clients go first', async () => {
    now = 0;
    const s = store();
    for (const c of ['a', 'b', 'c']) await s.record(c, 1n);
    await s.record('a', 2n); // a is the newest now
    await s.record('d', 1n);
    expect(s.size).toBe(3);
    expect(await s.get('b')).toBeNull();
    expect(await s.get('a')).toBe(2n);
    expect(await s.get('d')).toBe(1n);
  });
});

test('clients: users and partner keys are kept apart; anonymous callers have no writes', () => {
  expect(readClientOf(null)).toBeNull();
  expect(readClientOf({ userId: '7', roles: [], merchantId: null })).toBe('user:7');
  expect(
    readClientOf({
      userId: '0',
      roles: [],
      merchantId: '3',
      partner: { id: '12', merchantId: '3', scopes: [] },
    }),
  ).toBe('partner:12');
});

test('configuration: defaults and bounds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  expect(loadConfig({ DATA_DIR: dir }).replicas).toEqual({
    maxLagMs: 5_000,
    waitMs: 50,
    probeMs: 500,
    memoryClients: 100_000,
  });
  expect(() => loadConfig({ DATA_DIR: dir, REPLICA_WAIT_MS: '-1' })).toThrow('REPLICA_WAIT_MS');
  expect(() => loadConfig({ DATA_DIR: dir, REPLICA_PROBE_MS: '5' })).toThrow('REPLICA_PROBE_MS');
});
