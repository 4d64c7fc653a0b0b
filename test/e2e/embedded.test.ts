import { statSync } from 'node:fs';
import { join } from 'node:path';
import { client, type Gql } from '../support/client';
import {
  cleanupServers,
  makeDataDir,
  processesUsing,
  startServer,
  type ServerProcess,
} from '../support/server-process';

/**
 * The embedded default exactly as a new user runs it: nothing configured but a port and a fresh data
 * directory. Two starts on the same directory; the steps build on each other, in order.
 */

// Nothing but PORT and DATA_DIR (set by the helper): no DATABASE_URL, ADMIN_PASSWORD, secrets, NODE_ENV or LOG_LEVEL.
const NEW_USER = { LOG_LEVEL: undefined };

const SIGN_IN = `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
  __typename ... on AuthPayload { token viewer { email roles merchant { name } } } ... on ErrorResult { errorCode } } }`;
const VIEWER = `{ viewer { email roles } }`;
const COUNT = `{ products(first: 1) { totalCount } }`;

async function signIn(gql: Gql, email: string, password: string) {
  const r = await gql(SIGN_IN, { e: email, p: password });
  expect(r.errors).toBeUndefined();
  return r.data.signIn as {
    __typename: string;
    token?: string;
    viewer?: { email: string; roles: string[]; merchant: { name: string } | null };
  };
}

const dataDir = makeDataDir('commerce-embedded-');
let first: ServerProcess;
let second: ServerProcess;
const remembered: {
  adminPassword?: string;
  adminToken?: string;
  customer?: { email: string; password: string; token: string };
  products?: number;
} = {};

afterAll(async () => {
  if (first && second)
    console.info(`embedded default: first start ${first.startupMs} ms, second start ${second.startupMs} ms`);
  await cleanupServers();
});

describe('embedded default, first start', () => {
  test('starts PostgreSQL in DATA_DIR, prints a generated admin password and the demo logins', async () => {
    first = await startServer({ dataDir, env: NEW_USER, readyTimeoutMs: 180_000 });
    const out = first.output();
    const admin = /bootstrap admin created: admin@example\.com \/ (\S+) \(shown once/.exec(out);
    expect(admin).not.toBeNull();
    remembered.adminPassword = admin![1];
    expect(remembered.adminPassword.length).toBeGreaterThanOrEqual(12);
    expect(out).toContain('loading the demo catalog (1200 products)');
    expect(out).toMatch(/demo logins: .*merchant1@example\.com \/ demo-merchant-1/);
    expect(out).toMatch(/demo logins: .*shopper@example\.com \/ demo-shopper/);
    expect(out).toContain(`GraphQL at ${first.url}`);
    // The database and the generated secrets live in DATA_DIR; the secrets are private.
    expect(statSync(join(dataDir, 'pg', 'PG_VERSION')).isFile()).toBe(true);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    expect(processesUsing(dataDir).length).toBeGreaterThan(0);
  });

  test('a faceted search over the demo catalog returns products and non-empty facets', async () => {
    const gql = client(first.url);
    const all = await gql(COUNT);
    expect(all.data.products.totalCount).toBe(1200);
    remembered.products = all.data.products.totalCount;

    const r = await gql(
      `query($f: ProductFilter) { products(filter: $f, first: 10) {
        totalCount facets { name values { value count } } edges { node { id title priceRange { min { amount } } } } } }`,
      { f: { query: 'jacket' } },
    );
    expect(r.errors).toBeUndefined();
    const { totalCount, facets, edges } = r.data.products;
    expect(totalCount).toBeGreaterThan(0);
    expect(edges.length).toBe(Math.min(10, totalCount));
    expect(facets.length).toBeGreaterThan(0);
    const names = facets.map((f: any) => f.name);
    expect(names).toEqual(expect.arrayContaining(['category', 'price']));
    for (const f of facets) {
      expect(f.values.length).toBeGreaterThan(0);
      for (const v of f.values) expect(v.count).toBeGreaterThan(0);
    }
    // Each product falls in exactly one price band: the bands add up to the total.
    const price = facets.find((f: any) => f.name === 'price');
    expect(price.values.reduce((n: number, v: any) => n + v.count, 0)).toBe(totalCount);
  });

  test('the demo merchant and shopper sign in; the printed admin password works', async () => {
    const gql = client(first.url);
    const merchant = await signIn(gql, 'merchant1@example.com', 'demo-merchant-1');
    expect(merchant.__typename).toBe('AuthPayload');
    expect(merchant.viewer).toMatchObject({
      email: 'merchant1@example.com',
      roles: ['MERCHANT'],
      merchant: { name: expect.any(String) },
    });
    const shopper = await signIn(gql, 'shopper@example.com', 'demo-shopper');
    expect(shopper.viewer).toMatchObject({ roles: ['CUSTOMER'] });

    const admin = await signIn(gql, 'admin@example.com', remembered.adminPassword!);
    expect(admin.viewer).toMatchObject({ email: 'admin@example.com', roles: ['ADMIN'] });
    remembered.adminToken = admin.token;
    expect((await signIn(gql, 'admin@example.com', 'not-the-password')).__typename).toBe('UserError');
  });

  test('a new customer signs up', async () => {
    const gql = client(first.url);
    const customer = { email: 'new.customer@example.com', password: 'kept-across-restarts' };
    const r = await gql(
      `mutation($i: SignUpInput!) { signUp(input: $i) { __typename ... on AuthPayload { token viewer { email roles } } ... on ErrorResult { errorCode } } }`,
      { i: { ...customer, name: 'New Customer' } },
    );
    expect(r.data.signUp).toMatchObject({
      __typename: 'AuthPayload',
      viewer: { email: customer.email, roles: ['CUSTOMER'] },
    });
    remembered.customer = { ...customer, token: r.data.signUp.token };
  });

  test('SIGTERM: exit code 0 and the embedded PostgreSQL is stopped', async () => {
    const exit = await first.stop('SIGTERM', 30_000);
    expect(exit).toMatchObject({ code: 0, signal: null, killed: false });
    expect(exit.durationMs).toBeLessThan(10_000);
    expect(processesUsing(dataDir)).toEqual([]);
    expect(first.output()).toMatch(/"signal":"SIGTERM".*shutting down/);
  });
});

describe('embedded default, second start on the same DATA_DIR', () => {
  test('is faster and loads no demo data and no new admin', async () => {
    expect(first?.running()).toBe(false);
    second = await startServer({ dataDir, env: NEW_USER, readyTimeoutMs: 180_000, processGroup: true });
    expect(second.startupMs).toBeLessThan(first.startupMs);
    const out = second.output();
    expect(out).not.toContain('loading the demo catalog');
    expect(out).not.toContain('bootstrap admin created');
    expect(out).not.toContain('demo logins');
    expect((await client(second.url)(COUNT)).data.products.totalCount).toBe(remembered.products);
  });

  test('keeps the customer, the printed admin password, and tokens of the first run', async () => {
    const gql = client(second.url);
    const { customer } = remembered;
    const again = await signIn(gql, customer!.email, customer!.password);
    expect(again.viewer).toMatchObject({ email: customer!.email, roles: ['CUSTOMER'] });
    expect((await signIn(gql, 'admin@example.com', remembered.adminPassword!)).viewer).toMatchObject({
      roles: ['ADMIN'],
    });

    // The JWT secret was generated once and kept: tokens signed by the first process still work.
    expect((await gql(VIEWER, {}, remembered.adminToken)).data).toEqual({
      viewer: { email: 'admin@example.com', roles: ['ADMIN'] },
    });
    expect((await gql(VIEWER, {}, customer!.token)).data).toEqual({
      viewer: { email: customer!.email, roles: ['CUSTOMER'] },
    });
  });

  test('Ctrl-C (SIGINT to the process group, PostgreSQL included) also exits 0 and leaves no PostgreSQL', async () => {
    const exit = await second.stop('SIGINT', 30_000, { group: true });
    expect(exit).toMatchObject({ code: 0, signal: null, killed: false });
    // A slow stop names its slow step (the server logs each step's milliseconds).
    const stopped = second.logs().find((l) => l.msg === 'stopped');
    expect({ durationMs: exit.durationMs < 10_000 ? 'under 10 s' : exit.durationMs, stopped }).toMatchObject({
      durationMs: 'under 10 s',
    });
    expect(processesUsing(dataDir)).toEqual([]);
  });
});
