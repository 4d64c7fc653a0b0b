import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { client } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer } from '../support/server-process';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { eventually, PAYMENT_START } from '../factories/payments';
import { CHECKOUT, ADDRESS, createCart } from '../factories/shop';
import { ADMIN } from '../support/app';

/**
 * Tracing (issue 13, item 4) in the built server, as an operator turns it on: with
 * OTEL_EXPORTER_OTLP_ENDPOINT set, a checkout request produces HTTP, GraphQL and PostgreSQL spans
 * in one trace (continuing the caller's traceparent), the snapshot job it enqueued continues that
 * trace, and the payment provider's requests carry it. The collector is a small OTLP/HTTP JSON
 * receiver in this test.
 */

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: { stringValue?: string } }[];
}

const spans: OtlpSpan[] = [];
let collector: Server;

/** OTLP/JSON ids are hex; some encoders send base64: either way, hex. */
const hex = (id: string | undefined) =>
  !id ? '' : /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                ...s,
                traceId: hex(s.traceId),
                spanId: hex(s.spanId),
                parentSpanId: hex(s.parentSpanId),
              });
      } catch {
        // not JSON: ignored (the test then fails on missing spans)
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
});

afterAll(async () => {
  await cleanupServers();
  await new Promise((r) => collector.close(() => r(undefined)));
});

test('one checkout request is one trace: HTTP, GraphQL and PostgreSQL spans, its snapshot job, and the provider call of its payment', async () => {
  const db = await createTestDatabase();
  const port = (collector.address() as { port: number }).port;
  const server = await startServer({
    env: {
      DATABASE_URL: db.url,
      PAYMENT_PROVIDER: 'sandbox',
      CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
      CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      JOB_POLL_SECONDS: '1',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
  });
  const gql = client(server.url);
  const admin = await adminToken(gql);
  const shop = await createMerchant(gql, admin);
  const product = await createProduct(gql, shop.token, { variants: [{ onHand: 5, price: '20.00' }] });
  const buyer = await signUpCustomer(gql);
  const cartId = await createCart(gql, [{ variantId: product.variantIds[0], quantity: 1 }], buyer.token);

  // The caller's trace (as a storefront's own tracing would send it).
  const traceId = randomBytes(16).toString('hex');
  const traced = (query: string, variables: object) =>
    fetch(server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${buyer.token}`,
        traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
      },
      body: JSON.stringify({ query, variables }),
    }).then((r) => r.json() as Promise<any>);
  const co = (
    await traced(CHECKOUT, {
      i: { cartId, idempotencyKey: `k-${randomBytes(4).toString('hex')}`, shippingAddress: ADDRESS },
    })
  ).data.checkoutCreate;
  expect(co.__typename).toBe('Checkout');

  const inTrace = () => spans.filter((s) => s.traceId === traceId);
  const job = (await eventually(async () => inTrace().find((s) => s.name === 'job snapshot.write'), 30_000))!;
  const mine = inTrace();
  const http = mine.find((s) => s.kind === 2 /* SERVER */);
  expect(http).toBeDefined();
  expect(mine.some((s) => s.name.startsWith('graphql.'))).toBe(true);
  expect(
    mine.some((s) => s.name.startsWith('pg.query') || s.attributes?.some((a) => a.key === 'db.system')),
  ).toBe(true);
  // Every span of the trace hangs off another span of it (or off the caller's span): one tree.
  const ids = new Set(mine.map((s) => s.spanId));
  const roots = mine.filter((s) => !ids.has(s.parentSpanId ?? ''));
  expect(roots).toEqual([http]);
  // The job continues the request's trace: its parent is a span of the checkout request.
  expect(ids.has(job.parentSpanId!)).toBe(true);
  // The job's own statements are in the same trace, under the job.
  expect(mine.some((s) => s.parentSpanId === job.spanId)).toBe(true);

  // The payment provider is called with the trace (a CLIENT span whose context fetch sends as traceparent).
  const payTrace = randomBytes(16).toString('hex');
  const pay = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${buyer.token}`,
      traceparent: `00-${payTrace}-${randomBytes(8).toString('hex')}-01`,
    },
    body: JSON.stringify({ query: PAYMENT_START, variables: { c: co.id, m: 'CARD', k: 'pay-1' } }),
  }).then((r) => r.json() as Promise<any>);
  expect(pay.data.paymentStart.status).toBe('PENDING');
  const providerCall = await eventually(
    async () =>
      spans.find(
        (s) =>
          s.traceId === payTrace &&
          s.kind === 3 /* CLIENT */ &&
          JSON.stringify(s.attributes ?? []).includes('/v1/payments'),
      ),
    15_000,
  );
  expect(providerCall).toBeDefined();

  expect((await server.stop('SIGTERM')).code).toBe(0);
  await db.drop();
});
