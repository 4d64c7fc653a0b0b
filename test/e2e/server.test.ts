import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { client, codeOf, type Gql } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, runServerToExit, startServer, type ServerProcess } from '../support/server-process';

/** The built server as a separate process on a fresh test database, over real HTTP and WebSocket. */

const ADMIN = { email: 'admin@e2e.test', password: 'e2e-admin-password' };
const SECRETS = {
  JWT_SECRET: 'e2e-jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'e2e-payment-secret-0123456789',
  LOGISTICS_WEBHOOK_SECRET: 'e2e-logistics-secret-012345678',
  // Production takes a real provider (none answers here; these tests make no payment).
  PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
  PAYMENT_PROVIDER_API_KEY: 'e2e-provider-api-key-012345678',
};

const letters = (n: number) => Array.from(randomBytes(n), (b) => String.fromCharCode(97 + (b % 26))).join('');

const SIGN_IN = `mutation SignIn($e: String!, $p: String!) { signIn(email: $e, password: $p) {
  __typename ... on AuthPayload { token viewer { id email roles } } ... on ErrorResult { errorCode } } }`;

async function signIn(gql: Gql, email: string, password: string): Promise<string> {
  const r = await gql(SIGN_IN, { e: email, p: password });
  expect(r.data?.signIn?.__typename).toBe('AuthPayload');
  return r.data.signIn.token;
}

/** A graphql-ws client that connects once and never retries, so the test sees every close. */
function wsClient(url: string, opts: { token?: string; authorization?: string; lazy?: boolean } = {}) {
  const closes: { code: number; reason: string }[] = [];
  let onConnected!: () => void;
  const connected = new Promise<void>((r) => (onConnected = r));
  const authorization = opts.authorization ?? (opts.token ? `Bearer ${opts.token}` : undefined);
  const ws: Client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: authorization ? { authorization } : {},
    lazy: opts.lazy ?? true,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    on: {
      connected: () => onConnected(),
      closed: (e) => {
        const { code, reason } = e as { code: number; reason: string };
        closes.push({ code, reason: String(reason) });
      },
    },
  });
  return { ws, closes, connected };
}

/** One operation over the socket: its single result, or a rejection with what the sink got. */
function execute(ws: Client, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    let result: unknown;
    ws.subscribe(
      { query, variables },
      { next: (r) => (result = r), error: reject, complete: () => resolve(result) },
    );
  });
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);

const dbs: { drop(): Promise<void> }[] = [];
async function freshDatabase(): Promise<string> {
  const db = await createTestDatabase();
  dbs.push(db);
  return db.url;
}

afterAll(async () => {
  await cleanupServers();
  for (const db of dbs) await db.drop();
});

/** A depth of 12 (products > edges > node > variants > product > ...), over the default limit of 10. */
const TOO_DEEP = `query TooDeep { products(first: 1) { edges { node { variants { product { variants { product {
  variants { product { variants { product { title } } } } } } } } } } } }`;

describe('development server on DATABASE_URL', () => {
  let srv: ServerProcess;
  let gql: Gql;
  const sockets: Client[] = [];

  beforeAll(async () => {
    srv = await startServer({
      env: {
        DATABASE_URL: await freshDatabase(),
        DEMO_DATA: 'false',
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        ...SECRETS,
      },
    });
    gql = client(srv.url);
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    const exit = await srv?.stop();
    if (exit) expect(exit).toMatchObject({ code: 0, killed: false });
  });

  test('GET /healthz and /readyz answer 200; an unknown path is 404', async () => {
    const health = await fetch(`${srv.origin}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${srv.origin}/readyz`);
    expect(ready.status).toBe(200);
    // docs/faults.md: the body also carries the pool figures and the check's duration.
    expect(await ready.json()).toMatchObject({ status: 'ready', ready: true });
    expect((await fetch(`${srv.origin}/nope`)).status).toBe(404);
    // The configured admin password is never printed.
    expect(srv.output()).not.toContain(ADMIN.password);
    expect(srv.output()).toContain(`GraphQL at ${srv.url}`);
  });

  test('GET /metrics counts GraphQL operations and has the Prometheus default metrics', async () => {
    const r = await gql(`query MetricsProbe { viewer { id } }`);
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ viewer: null });
    const bad = await gql(`query MetricsBroken { noSuchField }`);
    expect(codeOf(bad)).toBe('GRAPHQL_VALIDATION_FAILED');

    const res = await fetch(`${srv.origin}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE graphql_operations_total counter');
    expect(text).toMatch(/^graphql_operations_total\{operation="MetricsProbe",outcome="ok"\} 1$/m);
    // An operation that fails validation has no resolved name: it is counted as anonymous.
    expect(text).toMatch(/^graphql_operations_total\{operation="anonymous",outcome="error"\} [1-9]\d*$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{route="\/graphql"\} \d+$/m);
    // The only process on its database relays the events; no one is subscribed.
    expect(text).toMatch(/^outbox_relay_leader 1$/m);
    expect(text).toMatch(/^order_event_subscriptions 0$/m);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).toMatch(new RegExp(`^${name} \\d`, 'm'));
    }
  });

  test('admin → merchant → category → product over HTTP; an anonymous search finds it with facets', async () => {
    const admin = await signIn(gql, ADMIN.email, ADMIN.password);

    const ownerEmail = `owner-${letters(6)}@e2e.test`;
    const m = await gql(
      `mutation($i: MerchantCreateInput!) { merchantCreate(input: $i) { id name } }`,
      { i: { name: 'E2E Outfitters', ownerEmail, ownerPassword: 'owner-password-1', ownerName: 'Owner' } },
      admin,
    );
    expect(m.errors).toBeUndefined();
    const merchantId = m.data.merchantCreate.id;

    const merchant = await signIn(gql, ownerEmail, 'owner-password-1');
    const me = await gql(`{ viewer { roles merchant { id name } } }`, {}, merchant);
    expect(me.data.viewer).toEqual({
      roles: ['MERCHANT'],
      merchant: { id: merchantId, name: 'E2E Outfitters' },
    });

    const c = await gql(
      `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id name slug } }`,
      { i: { name: 'Kettles', slug: `kettles-${letters(6)}` } },
      admin,
    );
    expect(c.errors).toBeUndefined();
    const categoryId = c.data.categoryCreate.id;
    // Only an admin may create categories.
    expect(
      codeOf(
        await gql(
          `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id } }`,
          { i: { name: 'X', slug: `x-${letters(6)}` } },
          merchant,
        ),
      ),
    ).toBe('FORBIDDEN');

    const word = `zq${letters(8)}`;
    const p = await gql(
      `mutation($i: ProductCreateInput!) { productCreate(input: $i) { id title variants { id sku } } }`,
      {
        i: {
          title: `Enamel ${word} Kettle`,
          description: 'A kettle made by the end-to-end test.',
          categoryId,
          variants: [
            {
              sku: `KET-${word}-T`,
              title: 'Teal',
              price: '29.99',
              onHand: 7,
              attributes: [{ name: 'color', value: 'Teal' }],
            },
            {
              sku: `KET-${word}-S`,
              title: 'Sand',
              price: '34.50',
              onHand: 3,
              attributes: [{ name: 'color', value: 'Sand' }],
            },
          ],
        },
      },
      merchant,
    );
    expect(p.errors).toBeUndefined();
    const productId = p.data.productCreate.id;

    const SEARCH = `query Search($f: ProductFilter) { products(filter: $f, first: 10) {
      totalCount
      facets { name values { value count } }
      edges { node { id title merchant { id name } category { id name } availability
        priceRange { min { amount currency } max { amount } } variants { sku price { amount } inventory { onHand } } } } } }`;
    const found = await gql(SEARCH, { f: { query: word } });
    expect(found.status).toBe(200);
    expect(found.errors).toBeUndefined();
    const conn = found.data.products;
    expect(conn.totalCount).toBe(1);
    expect(conn.edges).toHaveLength(1);
    expect(conn.edges[0].node).toMatchObject({
      id: productId,
      title: `Enamel ${word} Kettle`,
      merchant: { id: merchantId, name: 'E2E Outfitters' },
      category: { id: categoryId, name: 'Kettles' },
      availability: 'IN_STOCK',
      priceRange: { min: { amount: '29.99', currency: 'USD' }, max: { amount: '34.50' } },
    });
    // Exact stock is the merchant's business, not an anonymous shopper's.
    expect(conn.edges[0].node.variants.map((v: any) => v.inventory)).toEqual([null, null]);

    const facet = (name: string) => conn.facets.find((f: any) => f.name === name)?.values;
    expect(facet('category')).toEqual([{ value: categoryId, count: 1 }]);
    expect(facet('price')).toEqual([{ value: '25-50', count: 1 }]);
    expect(facet('color')).toEqual(
      expect.arrayContaining([
        { value: 'Teal', count: 1 },
        { value: 'Sand', count: 1 },
      ]),
    );

    // The same product through the category filter, and not through a price filter that excludes it.
    const byCategory = await gql(SEARCH, { f: { categoryId } });
    expect(byCategory.data.products.edges.map((e: any) => e.node.id)).toEqual([productId]);
    const tooCheap = await gql(SEARCH, { f: { query: word, priceMax: '20.00' } });
    expect(tooCheap.data.products.totalCount).toBe(0);

    // The merchant sees the exact stock of its own product.
    const own = await gql(
      `query($id: ID!) { product(id: $id) { variants { sku inventory { onHand available } } } }`,
      { id: productId },
      merchant,
    );
    expect(own.data.product.variants).toEqual(
      expect.arrayContaining([
        { sku: `KET-${word}-T`, inventory: { onHand: 7, available: 7 } },
        { sku: `KET-${word}-S`, inventory: { onHand: 3, available: 3 } },
      ]),
    );
  });

  test('graphql-ws: a query over WebSocket with a bearer token in connectionParams sees the viewer', async () => {
    const token = await signIn(gql, ADMIN.email, ADMIN.password);
    const { ws, closes } = wsClient(srv.wsUrl, { token });
    sockets.push(ws);
    const r = await withTimeout(execute(ws, `{ viewer { email roles } }`), 15_000, 'viewer over WebSocket');
    expect(r).toEqual({
      data: { viewer: { email: ADMIN.email, roles: ['ADMIN'] } },
      extensions: { cost: { requested: expect.any(Number), limit: expect.any(Number) } },
    });
    expect(closes).toEqual([]);

    // Without a token the same socket protocol is anonymous.
    const anon = wsClient(srv.wsUrl);
    sockets.push(anon.ws);
    expect(await withTimeout(execute(anon.ws, `{ viewer { id } }`), 15_000, 'anonymous viewer')).toEqual({
      data: { viewer: null },
      extensions: { cost: { requested: expect.any(Number), limit: expect.any(Number) } },
    });
  });

  test('the depth limit applies over WebSocket as over HTTP: an error, no data', async () => {
    const http = await gql(TOO_DEEP);
    expect(http.status).toBe(400);
    expect(http.data).toBeUndefined();
    expect(http.errors?.[0].message).toMatch(/depth limit of 10 exceeded/i);

    const { ws } = wsClient(srv.wsUrl);
    sockets.push(ws);
    let data: unknown;
    const errors = await withTimeout(
      execute(ws, TOO_DEEP).then(
        (r) => {
          data = r?.data;
          return r?.errors;
        },
        (e) => e,
      ),
      15_000,
      'deep query over WebSocket',
    );
    expect(data).toBeUndefined();
    expect(Array.isArray(errors)).toBe(true);
    expect(errors.map((e: { message: string }) => e.message).join('\n')).toMatch(
      /depth limit of 10 exceeded/i,
    );

    // The socket is still usable for a query within the limits.
    expect(
      await withTimeout(
        execute(ws, `{ products(first: 1) { edges { node { variants { product { id } } } } } }`),
        15_000,
        'shallow query',
      ),
    ).not.toHaveProperty('errors');
  });

  test('connection_init with a forged token is closed by the server with 4403', async () => {
    const forged = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIiwicm9sZXMiOlsiQURNSU4iXX0.c2lnbmF0dXJlLW9mLW5vYm9keQ';
    const { ws, closes } = wsClient(srv.wsUrl, { token: forged });
    sockets.push(ws);
    const outcome = await withTimeout(
      execute(ws, `{ viewer { id } }`).then(
        (r) => ({ result: r }),
        (e) => ({ error: e }),
      ),
      15_000,
      'forged token',
    );
    expect(outcome).not.toHaveProperty('result');
    expect((outcome as { error: { code: number } }).error.code).toBe(4403);
    expect(closes).toEqual([expect.objectContaining({ code: 4403 })]);

    // The same goes for a malformed token.
    const { ws: ws2 } = wsClient(srv.wsUrl, { authorization: 'Bearer not-a-jwt' });
    sockets.push(ws2);
    await expect(
      withTimeout(execute(ws2, `{ viewer { id } }`), 15_000, 'malformed token'),
    ).rejects.toMatchObject({ code: 4403 });
  });
});

describe('stopping', () => {
  test('SIGTERM with an idle WebSocket connected: the socket is closed and the process exits 0 within seconds', async () => {
    const srv = await startServer({
      env: {
        DATABASE_URL: await freshDatabase(),
        DEMO_DATA: 'false',
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        ...SECRETS,
      },
    });
    const gql = client(srv.url);
    const token = await signIn(gql, ADMIN.email, ADMIN.password);
    // An idle, acknowledged socket that holds no operation.
    const { ws, closes, connected } = wsClient(srv.wsUrl, { token, lazy: false });
    try {
      await withTimeout(connected, 15_000, 'WebSocket connection');
      const exit = await srv.stop('SIGTERM', 15_000);
      expect(exit).toMatchObject({ code: 0, signal: null, killed: false });
      expect(exit.durationMs).toBeLessThan(5_000);
      expect(closes).toHaveLength(1);
      expect(closes[0].code).toBe(1001);
      expect(srv.output()).toMatch(/"signal":"SIGTERM".*shutting down/);
      await expect(fetch(`${srv.origin}/healthz`)).rejects.toThrow();
    } finally {
      await ws.dispose();
    }
  });
});

describe('NODE_ENV=production', () => {
  test('without JWT_SECRET the process exits non-zero, naming JWT_SECRET', async () => {
    const r = await runServerToExit({
      NODE_ENV: 'production',
      DATABASE_URL: await freshDatabase(),
      ADMIN_PASSWORD: ADMIN.password,
      PAYMENT_WEBHOOK_SECRET: SECRETS.PAYMENT_WEBHOOK_SECRET,
      LOGISTICS_WEBHOOK_SECRET: SECRETS.LOGISTICS_WEBHOOK_SECRET,
    });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stderr).toContain('JWT_SECRET');
    expect(r.stderr).toMatch(/JWT_SECRET is required when NODE_ENV=production/);
    expect(r.durationMs).toBeLessThan(20_000);
  });

  test('without DATABASE_URL the process exits non-zero instead of starting an embedded database', async () => {
    const r = await runServerToExit({ NODE_ENV: 'production', ADMIN_PASSWORD: ADMIN.password, ...SECRETS });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/DATABASE_URL is required when NODE_ENV=production/);
  });

  describe('with every secret and DATABASE_URL', () => {
    let srv: ServerProcess;
    let gql: Gql;
    beforeAll(async () => {
      srv = await startServer({
        env: {
          NODE_ENV: 'production',
          DATABASE_URL: await freshDatabase(),
          ADMIN_EMAIL: ADMIN.email,
          ADMIN_PASSWORD: ADMIN.password,
          METRICS_TOKEN: 'e2e-metrics-token-0123456789',
          // Sign-up mails need a transport in production (no mail is sent by this test).
          SMTP_URL: 'smtp://127.0.0.1:2525',
          ...SECRETS,
        },
      });
      gql = client(srv.url);
    });
    afterAll(async () => {
      const exit = await srv?.stop();
      if (exit) expect(exit).toMatchObject({ code: 0, killed: false });
    });

    test('it starts; normal queries work and introspection over HTTP is refused', async () => {
      expect((await fetch(`${srv.origin}/readyz`)).status).toBe(200);
      const token = await signIn(gql, ADMIN.email, ADMIN.password);
      const me = await gql(`{ viewer { email roles } }`, {}, token);
      expect(me.data).toEqual({ viewer: { email: ADMIN.email, roles: ['ADMIN'] } });
      const products = await gql(`{ products(first: 5) { totalCount edges { node { id } } } }`);
      expect(products.data).toEqual({ products: { totalCount: 0, edges: [] } });
      // No SQL statistics for clients in production.
      expect(products.extensions?.sqlStatements).toBeUndefined();

      const intro = await gql(`{ __schema { types { name } } }`);
      expect(intro.data).toBeUndefined();
      expect(intro.status).toBe(400);
      expect(codeOf(intro)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(intro.errors?.[0].message).toMatch(/introspection/i);
      const typeIntro = await gql(`{ __type(name: "Product") { fields { name } } }`);
      expect(typeIntro.data).toBeUndefined();
    });

    test('introspection over WebSocket is refused too, while normal queries work there', async () => {
      const { ws } = wsClient(srv.wsUrl);
      try {
        const ok = await withTimeout(
          execute(ws, `{ products(first: 1) { totalCount } }`),
          15_000,
          'query over WebSocket',
        );
        expect(ok).toEqual({
          data: { products: { totalCount: 0 } },
          extensions: { cost: { requested: expect.any(Number), limit: expect.any(Number) } },
        });
        const outcome = await withTimeout(
          execute(ws, `{ __schema { types { name } } }`).then(
            (r) => r,
            (e) => ({ errors: e }),
          ),
          15_000,
          'introspection over WebSocket',
        );
        expect(outcome.data).toBeUndefined();
        expect(JSON.stringify(outcome.errors)).toMatch(/introspection/i);
      } finally {
        await ws.dispose();
      }
    });
  });
});
