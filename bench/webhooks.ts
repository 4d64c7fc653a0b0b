import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Pool } from 'pg';
import { freePort } from '../src/db/embedded';
import { signedHeaders } from '../src/modules/webhook/webhook.signature';
import { freshDatabase } from './checkout';
import { peakRssMb, percentile, post, ROOT, startChild, waitFor } from './lib';

/*
 * Outbound webhooks: order events committed on PostgreSQL (the outbox statements of
 * recordOrderEvent, from a pool of producer connections, each followed by the NOTIFY the
 * product's writers send) travel through the server (a child process: relay, dispatcher,
 * delivery workers) to a receiver on 127.0.0.1 that answers 200 at once.
 *
 * - Throughput: a burst of BENCH_WEBHOOK_BURST events; events delivered per second from the first
 *   commit to the last delivery. Baseline: the same number of signed POSTs of the same size sent
 *   straight from this process to the same receiver with the same concurrency (the HTTP ceiling
 *   of one node process on this machine, without a database).
 * - Latency: BENCH_WEBHOOK_RATE events/s for BENCH_SECONDS; from the producer's COMMIT returning
 *   to the receiver reading the request (one process, one clock), p50 and p99.
 * Every event must be delivered once (a duplicate or a missing event fails the run).
 *
 * Env: BENCH_WEBHOOK_BURST (3000), BENCH_WEBHOOK_RATE (200), BENCH_SECONDS (10),
 * BENCH_WEBHOOK_ENDPOINT_CONCURRENCY (the server's WEBHOOK_ENDPOINT_CONCURRENCY, default 4).
 */

const BURST = Number(process.env.BENCH_WEBHOOK_BURST ?? 3000);
const RATE = Number(process.env.BENCH_WEBHOOK_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ENDPOINT_CONCURRENCY = process.env.BENCH_WEBHOOK_ENDPOINT_CONCURRENCY ?? '4';
const ORDERS = 20;
const PRODUCERS = 20;
const ADMIN_PASSWORD = 'bench-admin-password';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answers 200 at once; calls `onEvent` with the event id of each delivery and when it was read. */
async function receiver(
  onEvent: (eventId: string, at: number) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        onEvent((JSON.parse(body) as { data: { eventId: string } }).data.eventId, at);
      } catch {
        /* a baseline request carries no event */
      }
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** The shop, its endpoint and ORDERS orders, made through the API. */
async function setUp(gqlUrl: string, hookUrl: string): Promise<string[]> {
  const q = async (query: string, variables: object, token?: string) => {
    const r = await post(gqlUrl, JSON.stringify({ query, variables }), token);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r.data;
  };
  const admin = (
    await q(
      `mutation($p: String!) { signIn(email: "admin@example.com", password: $p) { ... on AuthPayload { token } } }`,
      {
        p: ADMIN_PASSWORD,
      },
    )
  ).signIn.token;
  const email = `bench-shop-${randomBytes(3).toString('hex')}@example.com`;
  await q(
    `mutation($i: MerchantCreateInput!) { merchantCreate(input: $i) { id } }`,
    {
      i: {
        name: 'Webhook bench shop',
        ownerEmail: email,
        ownerPassword: 'bench-owner-pw',
        ownerName: 'Owner',
      },
    },
    admin,
  );
  const shop = (
    await q(
      `mutation($e: String!) { signIn(email: $e, password: "bench-owner-pw") { ... on AuthPayload { token } } }`,
      {
        e: email,
      },
    )
  ).signIn.token;
  const created = await q(
    `mutation($u: String!) { webhookEndpointCreate(input: { url: $u, topics: [SHIPMENT_UPDATED] }) { __typename } }`,
    { u: hookUrl },
    shop,
  );
  if (created.webhookEndpointCreate.__typename !== 'WebhookEndpointCreated')
    throw new Error('endpoint not created');
  const product = await q(
    `mutation($i: ProductCreateInput!) { productCreate(input: $i) { variants { id } } }`,
    {
      i: {
        title: 'Bench product',
        description: 'For the webhook benchmark.',
        variants: [
          {
            sku: `WB-${randomBytes(3).toString('hex')}`,
            title: 'Default',
            price: '10.00',
            onHand: 1000,
            attributes: [],
          },
        ],
      },
    },
    shop,
  );
  const variantId = product.productCreate.variants[0].id;
  const buyer = (
    await q(`mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token } } }`, {
      i: {
        email: `bench-buyer-${randomBytes(3).toString('hex')}@example.com`,
        password: 'bench-password',
        name: 'Buyer',
      },
    })
  ).signUp.token;
  const orders: string[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const cart = await q(
      `mutation($v: ID!) { cartCreate(lines: [{ variantId: $v, quantity: 1 }]) { ... on Cart { id } } }`,
      {
        v: variantId,
      },
    );
    const c = await q(
      `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { ... on Checkout { orders { id } } } }`,
      {
        i: {
          cartId: cart.cartCreate.id,
          idempotencyKey: `wb-${i}-${randomBytes(3).toString('hex')}`,
          shippingAddress: {
            name: 'B',
            line1: '1 Main St',
            city: 'Berlin',
            postalCode: '10115',
            country: 'DE',
          },
        },
      },
      buyer,
    );
    orders.push(c.checkoutCreate.orders[0].id);
  }
  return orders;
}

/** recordOrderEvent's statements as one, then the NOTIFY the product's writers send after commit (coalesced). */
function producer(pool: Pool) {
  let notifying = false;
  let again = false;
  const notify = () => {
    if (notifying) return void (again = true);
    notifying = true;
    void pool
      .query('notify order_event')
      .catch(() => undefined)
      .finally(() => {
        notifying = false;
        if (again) {
          again = false;
          notify();
        }
      });
  };
  return async (orderId: string): Promise<{ id: string; committedAt: number }> => {
    const { rows } = await pool.query(
      `with o as (update shop_order set event_seq = event_seq + 1 where id = $1
                  returning id, buyer_id, merchant_id, status, event_seq)
       insert into order_event (order_id, buyer_id, merchant_id, seq, type, status)
       select id, buyer_id, merchant_id, event_seq, 'SHIPMENT_UPDATED', status from o returning id`,
      [orderId],
    );
    const committedAt = now();
    notify();
    return { id: String(rows[0].id), committedAt };
  };
}

/** The HTTP ceiling: `n` signed POSTs of a delivery's size straight to the receiver, `concurrency` at once. */
async function baselinePosts(url: string, n: number, concurrency: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true });
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const body = JSON.stringify({
    type: 'shipment.updated',
    timestamp: new Date().toISOString(),
    data: {
      eventId: 'baseline',
      orderId: '1',
      merchantId: '1',
      sequence: 1,
      status: 'PAID',
      shipmentId: null,
      afterSaleId: null,
    },
  });
  let next = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        await new Promise<void>((ok, fail) => {
          const req = http.request(url, {
            method: 'POST',
            agent,
            headers: { ...signedHeaders(secret, `msg_${next}`, body), 'content-type': 'application/json' },
          });
          req.on('response', (res) => res.resume().on('end', ok));
          req.on('error', fail);
          req.end(body);
        });
      }
    }),
  );
  agent.destroy();
  return n / ((now() - started) / 1000);
}

export async function webhooksBench(serverUrl: string): Promise<void> {
  const url = await freshDatabase(serverUrl, 'bench_webhooks');
  const pool = new Pool({ connectionString: url, max: PRODUCERS });
  const committed = new Map<string, number>();
  const received = new Map<string, number>();
  let duplicates = 0;
  const hook = await receiver((eventId, at) => {
    if (eventId === 'baseline') return;
    if (received.has(eventId)) duplicates++;
    else received.set(eventId, at);
  });
  const port = await freePort();
  const app = startChild('dist/src/main.js', {
    DATABASE_URL: url,
    PORT: String(port),
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
    ADMIN_PASSWORD,
    DB_POOL_SIZE: '20',
    PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
    WEBHOOK_ENDPOINT_CONCURRENCY: ENDPOINT_CONCURRENCY,
    DATA_DIR: join(ROOT, '.data', 'bench'),
  });
  try {
    const gqlUrl = `http://127.0.0.1:${port}/graphql`;
    await waitFor(gqlUrl, JSON.stringify({ query: '{ __typename }' }));
    const orders = await setUp(gqlUrl, hook.url);
    const produce = producer(pool);
    const waitDelivered = async (n: number, timeoutMs: number) => {
      const until = Date.now() + timeoutMs;
      while (received.size < n && Date.now() < until) await sleep(5);
      if (received.size < n) throw new Error(`only ${received.size} of ${n} events delivered`);
    };
    // Warm-up: the checkouts' own events are not subscribed; a few shipment events are.
    for (let i = 0; i < 20; i++) committed.set((await produce(orders[i % ORDERS])).id, now());
    await waitDelivered(20, 30_000);

    // ---------------------------------------------------------------- throughput (a burst)
    const before = received.size;
    let produced = 0;
    const burstStart = now();
    await Promise.all(
      Array.from({ length: PRODUCERS }, async (_, w) => {
        while (produced < BURST) {
          produced++;
          const e = await produce(orders[w % ORDERS]);
          committed.set(e.id, e.committedAt);
        }
      }),
    );
    const commitSeconds = (now() - burstStart) / 1000;
    await waitDelivered(before + BURST, 300_000);
    const burstSeconds = (Math.max(...[...received.values()]) - burstStart) / 1000;
    const ours = BURST / burstSeconds;
    const baseline = await baselinePosts(hook.url, BURST, Number(ENDPOINT_CONCURRENCY));

    // ---------------------------------------------------------------- latency at a steady rate
    const steadyIds: string[] = [];
    const start = now();
    const total = RATE * SECONDS;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
      inFlight.push(
        produce(orders[i % ORDERS]).then((e) => {
          committed.set(e.id, e.committedAt);
          steadyIds.push(e.id);
        }),
      );
    }
    await Promise.all(inFlight);
    await waitDelivered(before + BURST + total, 120_000);
    const latencies = steadyIds.map((id) => received.get(id)! - committed.get(id)!).sort((a, b) => a - b);
    const missing = [...committed.keys()].filter((id) => !received.has(id)).length;
    if (missing || duplicates) throw new Error(`${missing} events missing, ${duplicates} delivered twice`);

    console.log(
      `\nWebhook delivery (one endpoint, WEBHOOK_ENDPOINT_CONCURRENCY=${ENDPOINT_CONCURRENCY}, receiver on 127.0.0.1 answering 200 at once)\n`,
    );
    console.log('| run | events/s | ratio | p50 ms | p99 ms | peak RSS MB |');
    console.log('|---|---|---|---|---|---|');
    console.log(
      `| baseline: signed POSTs straight from node, no database, ${ENDPOINT_CONCURRENCY} at once | ${baseline.toFixed(0)} | 1.00 | – | – | – |`,
    );
    console.log(
      `| burst of ${BURST} events (committed in ${commitSeconds.toFixed(1)} s), commit → delivered | ${ours.toFixed(0)} | ${(ours / baseline).toFixed(2)} | – | – | ${peakRssMb(app.pid!).toFixed(0)} |`,
    );
    console.log(
      `| steady ${RATE} events/s for ${SECONDS} s: commit → receiver | ${RATE} | – | ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 99).toFixed(1)} | ${peakRssMb(app.pid!).toFixed(0)} |`,
    );
    console.log(`\nEvery one of ${committed.size} events delivered exactly once.`);
  } finally {
    app.kill('SIGTERM');
    await new Promise((r) => app.once('exit', r));
    await hook.close();
    await pool.end();
  }
}
