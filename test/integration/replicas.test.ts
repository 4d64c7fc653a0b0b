import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { startApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/server/protection/log';
import { ReadRouter } from '../../src/db/read-routing';
import { sqlAll } from '../../src/db/sql';
import type { Principal } from '../../src/shared/auth';
import { createMerchant, createProduct, signIn, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { client, type Gql } from '../support/client';
import { startPgServer, startReplica, type PgServer } from '../support/pg-server';

/**
 * Issue 14, item 1: a real PostgreSQL 15 primary and a streaming replica that applies WAL 3 s
 * late (recovery_min_apply_delay), two server instances sharing one Redis (as two processes
 * would). The primary and replica start once for the file; the tests run in order.
 */

const APPLY_DELAY_MS = 3_000;
const MAX_LAG_MS = 6_000;
const PROBE_MS = 200;
const ADMIN = { email: 'admin@test.local', password: 'admin-password-1' };
const uid = () => randomBytes(4).toString('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const quiet = createLogger('silent');

let primary: PgServer;
let replica: PgServer;
let db: string;
const apps: { app: App; gql: Gql; dir: string }[] = [];
let ticker: NodeJS.Timeout | undefined;
/** Printed at the end: how long things took (the lag as clients saw it). */
const figures: Record<string, number> = {};

beforeAll(async () => {
  const started = Date.now();
  primary = await startPgServer();
  replica = await startReplica(primary, { applyDelayMs: APPLY_DELAY_MS });
  db = `replicas_${uid()}`;
  await primary.createDatabase(db);
  // The primary is never idle (as in production): a write every 100 ms keeps the replica's
  // lag at the apply delay instead of letting it catch up during pauses.
  await primary.query('create table tick (at timestamptz)');
  ticker = setInterval(
    () => void primary.query('insert into tick values (now())').catch(() => undefined),
    100,
  );
  figures.primaryAndReplicaStartMs = Date.now() - started;
}, 60_000);

afterAll(async () => {
  console.log(`replica figures: ${JSON.stringify(figures)}`);
  clearInterval(ticker);
  for (const a of apps) {
    await a.app.stop().catch(() => undefined);
    rmSync(a.dir, { recursive: true, force: true });
  }
  await replica?.destroy();
  await primary?.destroy();
});

async function start(env: Record<string, string> = {}): Promise<{ app: App; gql: Gql }> {
  const dir = mkdtempSync(join(tmpdir(), 'replicas-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: primary.url(db),
    PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
    DATABASE_REPLICA_URLS: replica.url(db),
    REDIS_URL: process.env.TEST_REDIS_URL!,
    PORT: '0',
    DATA_DIR: dir,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: 'test-jwt-secret-0123456789abcdef',
    PAYMENT_WEBHOOK_SECRET: 'test-payment-secret-0123456789',
    LOGISTICS_WEBHOOK_SECRET: 'test-logistics-secret-01234567',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'error',
    // Search pages are cached (shared through Redis): a cache filled from the replica must not hide
    // a client's own write from it.
    SEARCH_CACHE_TTL_MS: '2000',
    CATALOG_CACHE_TTL_MS: '0',
    REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
    REPLICA_PROBE_MS: String(PROBE_MS),
    REPLICA_WAIT_MS: '50',
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_USER_PER_MINUTE: '1000000',
    ...env,
  });
  const app = await startApp(config, quiet);
  const gql = client(app.url);
  apps.push({ app, gql, dir });
  return { app, gql };
}

const SEARCH = `query($q: String) { products(filter: { query: $q }, first: 50) { edges { node { id } } } }`;
const ORDERS = `{ orders(first: 50) { totalCount edges { node { id } } } }`;

async function searchIds(gql: Gql, q: string, token?: string): Promise<string[]> {
  const r = await gql(SEARCH, { q }, token);
  expect(r.errors).toBeUndefined();
  return r.data.products.edges.map((e: any) => e.node.id);
}

async function orderIds(gql: Gql, token: string): Promise<string[]> {
  const r = await gql(ORDERS, {}, token);
  expect(r.errors).toBeUndefined();
  return r.data.orders.edges.map((e: any) => e.node.id);
}

/** Polls until `check` holds; returns the milliseconds it took. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(100);
  }
  return Date.now() - started;
}

let a: { app: App; gql: Gql };
let b: { app: App; gql: Gql };
let admin: string;
let adminWroteAt = 0;
let merchant: { id: string; token: string };
let variantId: string;

test('the server starts with a replica 3 s behind (migrations and the bootstrap admin read the primary)', async () => {
  // A fresh database: right after the migrations the replica has not even replayed its creation.
  // Two processes starting together (they take turns on the migration lock).
  const started = Date.now();
  [a, b] = await Promise.all([start(), start()]);
  figures.serversStartMs = Date.now() - started;
  admin = await signIn(a.gql, ADMIN.email, ADMIN.password);
  merchant = await createMerchant(a.gql, admin);
  adminWroteAt = Date.now();
  variantId = (await createProduct(a.gql, merchant.token, { title: `Lamp ${uid()}` })).variantIds[0];
  // The replica becomes usable once its lag is known (a probe history as long as the lag).
  await until(async () => a.app.services.reads.replicaStates()[0].up, 15_000);
  await until(async () => a.app.services.reads.replicaStates()[0].lagMs <= MAX_LAG_MS, 15_000);
  const [state] = a.app.services.reads.replicaStates();
  figures.measuredLagMs = state.lagMs;
  // The measured lag is the apply delay (give or take a probe and a loaded machine).
  expect(state.lagMs).toBeGreaterThan(APPLY_DELAY_MS - 1_000);
  expect(state.lagMs).toBeLessThan(APPLY_DELAY_MS + 2_500);
  // Operators see it too.
  const metrics = await (await fetch(a.app.url.replace('/graphql', '/metrics'))).text();
  expect(metrics).toMatch(/db_replica_lag_seconds\{replica="replica 0"\} [2-5]\.\d+/);
  expect(metrics).toContain('db_replica_up{replica="replica 0"} 1');
}, 60_000);

test('a merchant finds the product they just created at once; anonymous search sees it after the lag', async () => {
  const word = `zebra${uid()}`;
  const p = await createProduct(a.gql, merchant.token, { title: `Striped ${word}` });
  const created = Date.now();
  // Anyone else reads the replica, which has not replayed the product yet (and the empty page is
  // now in the shared search cache).
  const replicaBefore = a.app.services.reads.counts.replica;
  expect(await searchIds(a.gql, word)).toEqual([]);
  expect(a.app.services.reads.counts.replica).toBeGreaterThan(replicaBefore);
  // The writer, through either process: the primary (or a replica with its write), never that cached page.
  expect(await searchIds(a.gql, word, merchant.token)).toEqual([p.id]);
  expect(await searchIds(b.gql, word, merchant.token)).toEqual([p.id]);
  expect(Date.now() - created).toBeLessThan(APPLY_DELAY_MS);
  await until(async () => (await searchIds(b.gql, word)).length === 1, 15_000);
  const visibleAfter = Date.now() - created;
  figures.productVisibleToOthersAfterMs = visibleAfter;
  expect(visibleAfter).toBeGreaterThan(APPLY_DELAY_MS - 1_000);
  expect(visibleAfter).toBeLessThan(APPLY_DELAY_MS + 6_000);
}, 30_000);

test('a buyer lists the order they just placed at once, through any process; others see it after the lag', async () => {
  // The admin (the other reader) wrote nothing since its record expired: it will read the replica.
  await sleep(Math.max(0, adminWroteAt + a.app.services.reads.writeTtlMs - Date.now()));
  const buyer = await signUpCustomer(a.gql);
  const cartId = await createCart(a.gql, [{ variantId, quantity: 1 }]);
  const r = await checkout(a.gql, buyer.token, cartId, `k-${uid()}`);
  expect(r.data.checkoutCreate.__typename).toBe('Checkout');
  const orderId: string = r.data.checkoutCreate.orders[0].id;
  const placed = Date.now();
  // The writer: at once, on the process it wrote through and on the other one (Redis shares the record).
  expect(await orderIds(a.gql, buyer.token)).toEqual([orderId]);
  expect(await orderIds(b.gql, buyer.token)).toEqual([orderId]);
  // The admin reads the replica, which has not replayed the order yet.
  expect(await orderIds(b.gql, admin)).not.toContain(orderId);
  expect(Date.now() - placed).toBeLessThan(APPLY_DELAY_MS);
  await until(async () => (await orderIds(b.gql, admin)).includes(orderId), 15_000);
  figures.orderVisibleToOthersAfterMs = Date.now() - placed;
  expect(Date.now() - placed).toBeGreaterThan(APPLY_DELAY_MS - 1_000);
}, 40_000);

/** Where a routed read ran: `true` on the replica. */
async function ranOnReplica(router: ReadRouter, principal: Principal | null): Promise<boolean> {
  const em = a.app.orm.em.fork() as EntityManager;
  const [row] = await router.forRead('orders.list', principal, () =>
    sqlAll<{ standby: boolean }>(em, 'select pg_is_in_recovery() as standby', [], true),
  );
  return row.standby;
}

test('a replica lagging beyond REPLICA_MAX_LAG_MS is skipped; a waiting reader gets the replica once it has the write', async () => {
  // The app's router (REPLICA_MAX_LAG_MS 6 s) uses the 3 s replica for anonymous reads...
  expect(await ranOnReplica(a.app.services.reads, null)).toBe(true);
  // ...one allowing 1 s never does.
  const strict = new ReadRouter({ maxLagMs: 1_000, waitMs: 0, probeMs: PROBE_MS, memoryClients: 100 }, quiet);
  // One that waits up to 6 s for a writer's replica.
  const patient = new ReadRouter(
    { maxLagMs: MAX_LAG_MS, waitMs: 6_000, probeMs: PROBE_MS, memoryClients: 100 },
    quiet,
  );
  try {
    await strict.start(a.app.orm);
    await patient.start(a.app.orm);
    await until(async () => patient.replicaStates()[0].lagMs <= MAX_LAG_MS, 15_000);
    expect(strict.replicaStates()[0].lagMs).toBeGreaterThan(1_000);
    for (let i = 0; i < 5; i++) expect(await ranOnReplica(strict, null)).toBe(false);
    expect(strict.counts).toMatchObject({ replica: 0, primary: 5 });

    const writer: Principal = { userId: '999', roles: [], merchantId: null };
    await primary.query(`insert into tick values (now())`);
    await patient.recordWrite(writer);
    const started = Date.now();
    expect(await ranOnReplica(patient, writer)).toBe(true);
    // It waited for the replay of the write (about the apply delay), not for the whole REPLICA_WAIT_MS.
    const waited = Date.now() - started;
    figures.writerWaitedForReplicaMs = waited;
    expect(waited).toBeGreaterThan(APPLY_DELAY_MS - 1_500);
    expect(waited).toBeLessThan(6_000);
    expect(patient.counts.waited).toBe(1);
  } finally {
    await strict.stop();
    await patient.stop();
  }
}, 40_000);

test('a replica stopped mid-test is skipped: clients get no errors, and it is used again once back', async () => {
  const buyer = await signUpCustomer(a.gql);
  await replica.stop('fast');
  // Before any probe noticed: the reads fail over to the primary.
  for (const app of [a, b]) {
    expect(await searchIds(app.gql, 'lamp')).toHaveLength(1);
    expect((await orderIds(app.gql, admin)).length).toBeGreaterThan(0);
    expect(await orderIds(app.gql, buyer.token)).toEqual([]);
  }
  await until(async () => !a.app.services.reads.replicaStates()[0].up, 5_000);
  const metrics = await (await fetch(a.app.url.replace('/graphql', '/metrics'))).text();
  expect(metrics).toContain('db_replica_up{replica="replica 0"} 0');
  expect(metrics).toMatch(/db_routed_reads_total\{target="primary"\} [1-9]/);
  for (let i = 0; i < 5; i++) expect(await searchIds(a.gql, 'lamp')).toHaveLength(1);

  await replica.start();
  await until(async () => {
    const [s] = b.app.services.reads.replicaStates();
    return s.up && s.lagMs <= MAX_LAG_MS;
  }, 20_000);
  const before = b.app.services.reads.counts.replica;
  expect(await searchIds(b.gql, 'lamp')).toHaveLength(1);
  expect(b.app.services.reads.counts.replica).toBe(before + 1);
}, 40_000);
