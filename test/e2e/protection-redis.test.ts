import Redis from 'ioredis';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer, type ServerProcess } from '../support/server-process';

/**
 * Rate limits hold across processes when they share Redis, and still hold per process without it.
 * Two real server processes on one database.
 */
const ENV = {
  PAYMENT_PROVIDER: 'sandbox',
  CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
  CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
  ADMIN_EMAIL: 'admin@limits.test',
  ADMIN_PASSWORD: 'admin-password-1',
  JWT_SECRET: 'limits-jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'limits-payment-secret-012345678',
  LOGISTICS_WEBHOOK_SECRET: 'limits-logistics-secret-0123456',
  PAYMENT_PROVIDER_API_KEY: 'limits-provider-key-0123456789',
  DEMO_DATA: 'false',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_IP_PER_MINUTE: '4',
};

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await cleanupServers();
  await db?.drop();
});

const status = async (s: ServerProcess) =>
  (
    await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ categories { id } }' }),
    })
  ).status;

/** A Redis database of its own, so other suites' counters (same 127.0.0.1) cannot interfere. */
async function isolatedRedisUrl(): Promise<string> {
  const index = 1 + Math.floor(Math.random() * 15);
  const url = `${process.env.TEST_REDIS_URL!.replace(/\/\d*$/, '')}/${index}`;
  const r = new Redis(url);
  await r.flushdb();
  await r.quit();
  return url;
}

test('with REDIS_URL two processes share one window: 4 operations in all, then 429 on either', async () => {
  const env = { ...ENV, DATABASE_URL: db.url, REDIS_URL: await isolatedRedisUrl() };
  const [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  const seen = [await status(a), await status(b), await status(a), await status(b)];
  expect(seen).toEqual([200, 200, 200, 200]);
  expect([await status(a), await status(b)]).toEqual([429, 429]);
  await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
});

test('without Redis each process keeps its own window: 4 on each, then 429', async () => {
  const env = { ...ENV, DATABASE_URL: db.url };
  const [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  const onA = [];
  for (let i = 0; i < 5; i++) onA.push(await status(a));
  expect(onA).toEqual([200, 200, 200, 200, 429]);
  const onB = [];
  for (let i = 0; i < 5; i++) onB.push(await status(b));
  expect(onB).toEqual([200, 200, 200, 200, 429]);
  await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
});
