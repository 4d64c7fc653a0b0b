import 'reflect-metadata';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createClient } from 'graphql-ws';
import pino from 'pino';
import WebSocket from 'ws';
import { startHttp, type RunningHttp } from '../../src/server/http';
import { createMetrics } from '../../src/server/metrics';
import { adminToken, createMerchant, signUpCustomer } from '../factories/catalog';
import { startTestApp, type TestApp } from '../support/app';

/*
 * The HTTP edge (docs/http.md) driven over real HTTP and WebSocket: CORS, compression, request ids
 * in the logs, the access log, body and time limits, the WebSocket caps, and /metrics hygiene.
 */

const SHOP = 'https://shop.example.com';
const METRICS_TOKEN = 'edge-metrics-token-0123456789';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Every pino line the server writes, parsed. */
const lines: Record<string, any>[] = [];
const capture = new Writable({
  write(chunk, _enc, done) {
    for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
    done();
  },
});

let t: TestApp;
let origin: string;
let wsUrl: string;
const sockets: WebSocket[] = [];
const extraEdges: RunningHttp[] = [];

beforeAll(async () => {
  t = await startTestApp(
    {
      CORS_ORIGINS: `${SHOP},http://localhost:5173`,
      HTTP_BODY_LIMIT_BYTES: '4096',
      HTTP_REQUEST_TIMEOUT_MS: '1500',
      HTTP_HEADERS_TIMEOUT_MS: '1500',
      WS_MAX_CONNECTIONS_PER_IP: '4',
      WS_MAX_CONNECTIONS_PER_USER: '2',
      WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '2',
      WS_INIT_TIMEOUT_MS: '400',
      METRICS_TOKEN,
      METRICS_MAX_OPERATION_NAMES: '10',
      LOG_LEVEL: 'info',
    },
    pino({ level: 'info' }, capture),
  );
  origin = t.url.replace(/\/graphql$/, '');
  wsUrl = t.url.replace(/^http/, 'ws');
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map(closeSocket));
});
afterAll(async () => {
  for (const e of extraEdges) await e.close();
  await t?.stop();
});

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A plain node:http request: no automatic decompression, every header as sent. */
function send(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; base?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${opts.base ?? origin}${path}`,
      { method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const postJson = (query: string, headers: Record<string, string> = {}, variables = {}) =>
  send('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
const json = (r: RawResponse) => JSON.parse(r.body.toString('utf8'));

// ------------------------------------------------------------------ WebSocket helpers

interface RawSocket {
  sock: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first message matching. */
  waitFor(pred: (m: any) => boolean, ms?: number): Promise<any>;
}

/** A raw graphql-transport-ws socket (no client library), so the test sees every frame and close. */
function rawSocket(headers: Record<string, string> = {}): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(wsUrl, 'graphql-transport-ws', { headers });
    sockets.push(sock);
    const messages: any[] = [];
    const listeners: (() => void)[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      sock.on('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    sock.on('message', (data) => {
      messages.push(JSON.parse(data.toString()));
      listeners.splice(0).forEach((l) => l());
    });
    sock.on('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error('refused'), { status: res.statusCode })),
    );
    sock.on('error', reject);
    sock.on('open', () =>
      resolve({
        sock,
        messages,
        closed,
        async waitFor(pred, ms = 10_000) {
          const deadline = Date.now() + ms;
          for (;;) {
            const m = messages.find(pred);
            if (m) return m;
            if (Date.now() > deadline)
              throw new Error(`no such message; got ${JSON.stringify(messages.slice(-5))}`);
            await new Promise<void>((r) => {
              listeners.push(r);
              setTimeout(r, 100);
            });
          }
        },
      }),
    );
  });
}

async function initSocket(params: Record<string, unknown> = {}): Promise<RawSocket> {
  const s = await rawSocket();
  s.sock.send(JSON.stringify({ type: 'connection_init', payload: params }));
  await s.waitFor((m) => m.type === 'connection_ack');
  return s;
}

async function closeSocket(sock: WebSocket) {
  if (sock.readyState === WebSocket.CLOSED) return;
  await new Promise<void>((r) => {
    sock.once('close', () => r());
    sock.terminate();
  });
  // The server sees the close a moment later and releases the connection's slot.
  await new Promise((r) => setTimeout(r, 50));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ CORS

describe('CORS', () => {
  test('a preflight from a listed origin is 204 with the methods and headers a storefront needs', async () => {
    const r = await send('/graphql', {
      method: 'OPTIONS',
      headers: {
        origin: SHOP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization,x-request-id,traceparent',
      },
    });
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe(SHOP);
    expect(String(r.headers['access-control-allow-methods'])).toMatch(/POST/);
    expect(String(r.headers['access-control-allow-methods'])).toMatch(/GET/);
    const allowed = String(r.headers['access-control-allow-headers'])
      .toLowerCase()
      .split(/\s*,\s*/);
    for (const h of [
      'content-type',
      'authorization',
      'x-request-id',
      'traceparent',
      'apollo-require-preflight',
      'x-apollo-operation-name',
    ]) {
      expect(allowed).toContain(h);
    }
  });

  test('an unlisted origin gets no Access-Control-Allow-Origin, on the preflight and on the request', async () => {
    const pre = await send('/graphql', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    // A look-alike of a listed origin is not listed either.
    const alike = await postJson('{ __typename }', { origin: 'https://shop.example.com.evil.io' });
    expect(alike.headers['access-control-allow-origin']).toBeUndefined();
    const listed = await postJson('{ __typename }', { origin: SHOP });
    expect(listed.status).toBe(200);
    expect(listed.headers['access-control-allow-origin']).toBe(SHOP);
    expect(String(listed.headers['access-control-expose-headers'])).toMatch(/x-request-id/);
  });
});

// ------------------------------------------------------------------ compression

describe('compression', () => {
  const BIG = `{ __schema { types { name description fields { name } } } }`;

  test.each([
    ['gzip', gunzipSync],
    ['br', brotliDecompressSync],
  ] as const)('%s when the client asks for it', async (encoding, decompress) => {
    const r = await postJson(BIG, { 'accept-encoding': encoding });
    expect(r.status).toBe(200);
    expect(r.headers['content-encoding']).toBe(encoding);
    const body = JSON.parse(decompress(r.body).toString('utf8'));
    expect(body.data.__schema.types.length).toBeGreaterThan(20);
    // It is worth it: the schema compresses to a fraction.
    const plain = await postJson(BIG);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(r.body.length).toBeLessThan(plain.body.length / 3);
  });
});

// ------------------------------------------------------------------ request ids and logs

describe('request ids', () => {
  test('a sane x-request-id is echoed and carried, with the traceparent trace id, into the access-log line', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await postJson('query EdgeProbe { __typename }', {
      'x-request-id': 'ticket-4242',
      traceparent: `00-${trace}-00f067aa0ba902b7-01`,
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-request-id']).toBe('ticket-4242');
    await sleep(50);
    const mine = lines.filter((l) => l.reqId === 'ticket-4242');
    expect(mine.length).toBeGreaterThanOrEqual(1);
    for (const l of mine) expect(l.traceId).toBe(trace);
    const access = mine.filter((l) => l.msg === 'request');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      method: 'POST',
      route: '/graphql',
      status: 200,
      operation: 'EdgeProbe',
      outcome: 'ok',
    });
    expect(typeof access[0].ms).toBe('number');
  });

  test('an insane or missing x-request-id is replaced by a new one', async () => {
    const bad = await postJson('{ __typename }', { 'x-request-id': 'x'.repeat(300) });
    expect(bad.headers['x-request-id']).toMatch(UUID);
    const injected = await postJson('{ __typename }', { 'x-request-id': 'a"b{c}' });
    expect(injected.headers['x-request-id']).toMatch(UUID);
    const none = await postJson('{ __typename }');
    expect(none.headers['x-request-id']).toMatch(UUID);
    expect(none.headers['x-request-id']).not.toBe(bad.headers['x-request-id']);
    // Every route has one, not only /graphql.
    const health = await send('/healthz');
    expect(health.headers['x-request-id']).toMatch(UUID);
    await sleep(50);
    expect(lines.find((l) => l.reqId === none.headers['x-request-id'] && l.msg === 'request')).toMatchObject({
      route: '/graphql',
      status: 200,
    });
  });

  test('one access-log line per request, for errors and unknown routes too', async () => {
    const r = await send('/no-such-page', { headers: { 'x-request-id': 'missing-page-1' } });
    expect(r.status).toBe(404);
    const bad = await postJson('query Broken { nope }', { 'x-request-id': 'broken-query-1' });
    expect(bad.status).toBe(400);
    await sleep(50);
    expect(lines.filter((l) => l.reqId === 'missing-page-1' && l.msg === 'request')).toEqual([
      expect.objectContaining({ method: 'GET', status: 404 }),
    ]);
    expect(lines.filter((l) => l.reqId === 'broken-query-1' && l.msg === 'request')).toEqual([
      expect.objectContaining({ status: 400, outcome: 'error' }),
    ]);
  });
});

// ------------------------------------------------------------------ limits

describe('body and time limits', () => {
  test('a body over HTTP_BODY_LIMIT_BYTES is 413 with a GraphQL error', async () => {
    const r = await postJson('{ __typename }', {}, { pad: 'x'.repeat(5000) });
    expect(r.status).toBe(413);
    expect(json(r).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    // Just under the limit runs.
    const ok = await postJson('{ __typename }', {}, { pad: 'x'.repeat(3000) });
    expect(ok.status).toBe(200);
  });

  test('a client that sends its body too slowly is cut off (408) instead of holding the connection', async () => {
    const started = Date.now();
    const socket = connect(Number(new URL(origin).port), '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - started)));
    socket.write(
      'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"query"',
    );
    // A byte now and then: an idle timeout alone would never fire.
    const drip = setInterval(() => socket.write(' '), 200);
    const ms = await closed;
    clearInterval(drip);
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(10_000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
  });
});

// ------------------------------------------------------------------ WebSocket

describe('WebSocket', () => {
  test('the token is accepted under authorization in any letter case', async () => {
    const customer = await signUpCustomer(t.gql);
    for (const key of ['authorization', 'Authorization', 'AUTHORIZATION']) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { [key]: `Bearer ${customer.token}` },
        retryAttempts: 0,
      });
      try {
        const result = await new Promise<any>((resolve, reject) => {
          let value: any;
          client.subscribe(
            { query: '{ viewer { id } }' },
            { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
          );
        });
        expect({ key, viewer: result.data?.viewer }).toEqual({ key, viewer: { id: customer.id } });
      } finally {
        await client.dispose();
      }
    }
  });

  test('anonymous sockets may read but not write: a mutation is UNAUTHENTICATED and not run', async () => {
    const s = await initSocket();
    s.sock.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: '{ __typename }' } }));
    expect(await s.waitFor((m) => m.id === 'q' && m.type === 'next')).toMatchObject({
      payload: { data: { __typename: 'Query' } },
    });
    const email = `ws-anon-${Date.now()}@test.local`;
    s.sock.send(
      JSON.stringify({
        id: 'm',
        type: 'subscribe',
        payload: {
          query: `mutation($i: SignUpInput!) { signUp(input: $i) { __typename } }`,
          variables: { i: { email, password: 'password-123', name: 'Anon' } },
        },
      }),
    );
    const err = await s.waitFor((m) => m.id === 'm');
    expect(err.type).toBe('error');
    expect(err.payload[0].extensions.code).toBe('UNAUTHENTICATED');
    const rows = await t.app.orm.em
      .fork()
      .getConnection()
      .execute(`select 1 from app_user where email = ?`, [email]);
    expect(rows).toHaveLength(0);
  });

  test('a socket that does not send connection_init in time is closed (4408)', async () => {
    const s = await rawSocket();
    const started = Date.now();
    const { code } = await s.closed;
    expect(code).toBe(4408);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('connections per IP are capped at the upgrade (429); a closed one frees its slot', async () => {
    const open = [];
    for (let i = 0; i < 4; i++) open.push(await initSocket());
    await expect(rawSocket()).rejects.toMatchObject({ status: 429 });
    // No proxy is trusted here (TRUST_PROXY unset): a forged X-Forwarded-For changes nothing.
    await expect(rawSocket({ 'x-forwarded-for': '203.0.113.50' })).rejects.toMatchObject({ status: 429 });
    await closeSocket(open[0].sock);
    await sleep(100);
    const again = await initSocket();
    expect(again.sock.readyState).toBe(WebSocket.OPEN);
  });

  test('connections per user are capped (4429)', async () => {
    const customer = await signUpCustomer(t.gql);
    const auth = { authorization: `Bearer ${customer.token}` };
    await initSocket(auth);
    await initSocket(auth);
    const third = await rawSocket();
    third.sock.send(JSON.stringify({ type: 'connection_init', payload: auth }));
    expect((await third.closed).code).toBe(4429);
    // Someone else is not affected.
    const other = await signUpCustomer(t.gql);
    await initSocket({ authorization: `Bearer ${other.token}` });
  });

  test('subscriptions per socket are capped, and a flood of 3,000 subscribes holds nothing', async () => {
    const admin = await adminToken(t.gql);
    const merchant = await createMerchant(t.gql, admin);
    const s = await initSocket({ authorization: `Bearer ${merchant.token}` });
    const query = 'subscription { merchantOrderEvents { id } }';
    const before = t.app.services.events.subscriptions;
    for (const id of ['a', 'b']) s.sock.send(JSON.stringify({ id, type: 'subscribe', payload: { query } }));
    await sleep(300);
    expect(s.messages.filter((m) => m.type === 'error')).toEqual([]);
    for (let i = 0; i < 3000; i++)
      s.sock.send(JSON.stringify({ id: `f${i}`, type: 'subscribe', payload: { query } }));
    await s.waitFor((m) => m.id === 'f2999', 20_000);
    const floods = s.messages.filter((m) => String(m.id).startsWith('f'));
    expect(floods).toHaveLength(3000);
    expect(floods.every((m) => m.type === 'error' && m.payload[0].extensions.code === 'RATE_LIMITED')).toBe(
      true,
    );
    // Only the two allowed subscriptions are live.
    expect(t.app.services.events.subscriptions - before).toBe(2);
    expect(s.sock.readyState).toBe(WebSocket.OPEN);
  });
});

// ------------------------------------------------------------------ metrics

const scrape = async (token?: string, base = origin) =>
  send('/metrics', { headers: token ? { authorization: `Bearer ${token}` } : {}, base });

const series = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('graphql_operations_total{'))
    .map((l) => {
      const m = /operation="([^"]*)",outcome="([^"]*)"\} (\d+)/.exec(l)!;
      return { operation: m[1], outcome: m[2], count: Number(m[3]) };
    });

describe('/metrics', () => {
  test('needs the bearer token when METRICS_TOKEN is set', async () => {
    expect((await scrape()).status).toBe(401);
    expect((await scrape('wrong-token-0123456789')).status).toBe(401);
    const ok = await scrape(METRICS_TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toContain('# TYPE graphql_operations_total counter');
  });

  test('business failures are counted as business_error, not ok and not error', async () => {
    const r = await postJson(
      `mutation WrongPassword { signIn(email: "nobody@test.local", password: "wrong-password-1") { __typename } }`,
    );
    expect(json(r).data.signIn.__typename).not.toBe('AuthPayload');
    const s = series((await scrape(METRICS_TOKEN)).body.toString());
    expect(s.filter((x) => x.operation === 'WrongPassword')).toEqual([
      { operation: 'WrongPassword', outcome: 'business_error', count: 1 },
    ]);
  });

  test('200 client-chosen operation names (and a huge one) give a bounded set of series', async () => {
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) => postJson(`query Unique_${i + j}_${Date.now()} { __typename }`)),
      );
    }
    // A name too long to be a label (the body limit here is 4 KB; the rule is the same for 20 KB).
    const huge = await postJson(`query ${'N'.repeat(3000)} { __typename }`);
    expect(huge.status).toBe(200);
    const text = (await scrape(METRICS_TOKEN)).body.toString();
    const s = series(text);
    const names = new Set(s.map((x) => x.operation));
    // At most 10 names, plus `anonymous` and `other`.
    expect(names.size).toBeLessThanOrEqual(12);
    const other = s.filter((x) => x.operation === 'other').reduce((n, x) => n + x.count, 0);
    expect(other).toBeGreaterThanOrEqual(190);
    expect(text.length).toBeLessThan(64 * 1024);
  });

  test('with METRICS_PORT, /metrics is served there only; the context and error lines carry the request id', async () => {
    const config = t.app.config;
    const edge = await startHttp({
      config: { ...config, port: 0, edge: { ...config.edge, metrics: { ...config.edge.metrics, port: 0 } } },
      orm: t.app.orm,
      // A schema of its own, with a resolver that fails unexpectedly.
      schema: new GraphQLSchema({
        query: new GraphQLObjectType({
          name: 'Query',
          fields: {
            boom: {
              type: GraphQLString,
              resolve: () => {
                throw new Error('kaboom: an internal detail');
              },
            },
          },
        }),
      }),
      services: t.app.services,
      log: pino({ level: 'info' }, capture),
      metrics: createMetrics(),
      plugins: [
        {
          async requestDidStart() {
            return {
              async executionDidStart({ contextValue }) {
                contextValue.log.info({ probe: true }, 'from the request context');
              },
            };
          },
        },
      ],
    });
    extraEdges.push(edge);
    const base = `http://127.0.0.1:${edge.port}`;
    expect(edge.metricsPort).toBeGreaterThan(0);
    expect((await scrape(METRICS_TOKEN, base)).status).toBe(404);
    const scraped = await scrape(METRICS_TOKEN, `http://127.0.0.1:${edge.metricsPort}`);
    expect(scraped.status).toBe(200);

    const r = await send('/graphql', {
      base,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'context-log-7' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(r.status).toBe(200);
    await sleep(50);
    expect(lines.filter((l) => l.reqId === 'context-log-7').map((l) => l.msg)).toEqual([
      'from the request context',
      'request',
    ]);

    // An unexpected failure is logged on the request's logger too; the client sees no internals.
    const boom = await send('/graphql', {
      base,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'boom-1' },
      body: JSON.stringify({ query: '{ boom }' }),
    });
    expect(json(boom).errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    expect(boom.body.toString()).not.toContain('kaboom');
    await sleep(50);
    expect(lines.filter((l) => l.reqId === 'boom-1').map((l) => l.msg)).toEqual([
      'from the request context',
      'unhandled error in GraphQL operation',
      'request',
    ]);
  });
});

// ------------------------------------------------------------------ hooks for the other parts

describe('extension points', () => {
  test('statuses and headers set by Apollo plugins pass through the edge', async () => {
    const edge = await startHttp({
      config: { ...t.app.config, port: 0 },
      orm: t.app.orm,
      schema: new GraphQLSchema({
        query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
      }),
      services: t.app.services,
      log: pino({ level: 'info' }, capture),
      metrics: createMetrics(),
      plugins: [
        {
          async requestDidStart() {
            return {
              async willSendResponse({ operationName, response }) {
                if (operationName !== 'Limited') return;
                response.http.status = 429;
                response.http.headers.set('retry-after', '7');
              },
            };
          },
        },
      ],
    });
    extraEdges.push(edge);
    const base = `http://127.0.0.1:${edge.port}`;
    const limited = await send('/graphql', {
      base,
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: SHOP },
      body: JSON.stringify({ query: 'query Limited { ok }' }),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect(String(limited.headers['access-control-expose-headers'])).toMatch(/retry-after/);
  });
});
