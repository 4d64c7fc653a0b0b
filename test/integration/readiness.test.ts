import { sqlAll } from '../../src/db/sql';
import { startTestApp, type TestApp } from '../support/app';

/**
 * Issue 9, defect 3: /readyz was blind (it waited as long as the database did and never looked at
 * the pool). It now answers within READYZ_TIMEOUT_MS and says why it is not ready. A frozen and a
 * read-only database are covered by test/e2e/faults.test.ts (they need a PostgreSQL of their own).
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    DB_POOL_SIZE: '2',
    READYZ_TIMEOUT_MS: '700',
    READYZ_MAX_POOL_WAITING: '2',
    DB_POOL_ACQUIRE_TIMEOUT_MS: '20000',
  });
});
afterAll(async () => {
  await t?.stop();
});

const readyz = async () => {
  const started = Date.now();
  const res = await fetch(t.url.replace(/\/graphql$/, '/readyz'));
  return { status: res.status, body: (await res.json()) as any, ms: Date.now() - started };
};
/**
 * Ready again once the pool is free: the check that timed out (or a background poller) may still
 * hold a connection for a moment after the test's own statements end, so it is asked for up to 5 s.
 */
const readyAgain = async () => {
  const until = Date.now() + 5000;
  for (;;) {
    const { status } = await readyz();
    if (status === 200 || Date.now() > until) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
};
const healthz = async () => (await fetch(t.url.replace(/\/graphql$/, '/healthz'))).status;

/** Holds `n` pooled connections for `ms` (each in a pg_sleep). */
const occupy = (n: number, ms: number) =>
  Array.from({ length: n }, () =>
    sqlAll(t.app.orm.em.fork() as any, `select pg_sleep(${ms / 1000})`).catch(() => undefined),
  );

test('ready: 200 with the pool figures', async () => {
  const r = await readyz();
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ ready: true, status: 'ready', pool: { size: 2 } });
});

test('every connection busy: the check waits at most READYZ_TIMEOUT_MS, then 503 "timeout"', async () => {
  const busy = occupy(2, 2500);
  await new Promise((r) => setTimeout(r, 300));
  const r = await readyz();
  expect(r.status).toBe(503);
  expect(r.body).toMatchObject({ ready: false, check: 'timeout' });
  expect(r.body.reason).toMatch(/did not answer within 700 ms/);
  expect(r.ms).toBeLessThan(2000);
  expect(await healthz()).toBe(200); // liveness is not readiness
  await Promise.all(busy);
  expect(await readyAgain()).toBe(200);
});

test('saturated pool (more waiting than READYZ_MAX_POOL_WAITING): 503 at once, without touching the database', async () => {
  const busy = occupy(5, 2500); // 2 running, 3 waiting
  await new Promise((r) => setTimeout(r, 300));
  const r = await readyz();
  expect(r.status).toBe(503);
  expect(r.body).toMatchObject({
    ready: false,
    check: 'pool-saturated',
    pool: { size: 2, used: 2 },
  });
  // Our 3, and any background poller (switches, webhooks) that queued meanwhile.
  expect(r.body.pool.waiting).toBeGreaterThanOrEqual(3);
  expect(r.ms).toBeLessThan(500);
  await Promise.all(busy);
  expect(await readyAgain()).toBe(200);
});
