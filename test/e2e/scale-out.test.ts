import { Client } from 'pg';
import { client } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer } from '../support/server-process';

/**
 * Several stateless processes on one PostgreSQL, started together on an empty database, as a
 * scaled-out deployment starts: they take turns migrating and then share everything.
 */
afterAll(() => cleanupServers());

const ENV = {
  ADMIN_EMAIL: 'admin@scale.test',
  ADMIN_PASSWORD: 'admin-password-1',
  JWT_SECRET: 'scale-jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'scale-payment-secret-012345678',
  LOGISTICS_WEBHOOK_SECRET: 'scale-logistics-secret-0123456',
  PAYMENT_PROVIDER_API_KEY: 'scale-provider-key-0123456789',
  DEMO_DATA: 'false',
  LOG_LEVEL: 'warn',
};

test('three processes started at once on an empty database migrate once and serve the same data', async () => {
  const db = await createTestDatabase();
  // An empty database, not the migrated template.
  const admin = new Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('drop schema public cascade; create schema public; drop schema if exists pgboss cascade');
  await admin.end();

  const servers = await Promise.all([0, 1, 2].map(() => startServer({ env: { ...ENV, DATABASE_URL: db.url } })));
  const [a, b, c] = servers.map((s) => client(s.url));
  const signIn = `mutation { signIn(email: "admin@scale.test", password: "admin-password-1") { ... on AuthPayload { token } } }`;
  const token = (await a(signIn)).data.signIn.token;
  const made = await b(`mutation { categoryCreate(input: { name: "Shared", slug: "shared" }) { id } }`, {}, token);
  expect(made.errors).toBeUndefined();
  const seen = await c(`{ categories { slug } }`);
  expect(seen.data.categories.map((x: { slug: string }) => x.slug)).toContain('shared');

  const check = new Client({ connectionString: db.url });
  await check.connect();
  const applied = await check.query('select name from mikro_orm_migrations order by id');
  const admins = await check.query(`select count(*)::int as n from app_user where email = 'admin@scale.test'`);
  await check.end();
  // Each migration once, the bootstrap admin once.
  expect(applied.rows.map((r) => r.name)).toEqual([...new Set(applied.rows.map((r) => r.name))]);
  expect(applied.rows.length).toBeGreaterThanOrEqual(4);
  expect(admins.rows[0].n).toBe(1);
  for (const s of servers) expect((await s.stop('SIGTERM')).code).toBe(0);
  await db.drop();
});
