import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import { Client, Pool, type PoolClient } from 'pg';
import { toKnexBindings } from '../src/db/sql';
import { ADD_LINES_SQL, CUSTOMER_CART_SQL } from '../src/modules/cart/cart.add.sql';
import { CLAIM_AND_READ_CART_SQL } from '../src/modules/checkout/checkout.sql';
import { WRITE_CHECKOUT_SQL } from '../src/modules/order/order.store';
import { LEDGER_STRIPES, partsWithFee } from '../src/modules/ledger/ledger';
import { POST_SQL, postParams } from '../src/modules/ledger/posting';
import { allocateStripes, purchaseWithBalancePosting } from '../src/modules/ledger/postings';
import { CLAIM_AND_READ_SQL, SETTLE_SQL } from '../src/modules/payment/balance-payment';
import { ADDRESS, oneLineCheckoutParams } from './checkout';
import {
  cpuPerRequest,
  peakRssMb,
  percentile,
  post,
  ROOT,
  table,
  type Measured,
  startBenchServer,
} from './lib';
import { fund } from './payment';

/**
 * The money path of issue 10: BUYERS buyers buy from ONE merchant at once, each flow a cart
 * (cartCreate, signed in), a checkout and a payment from the buyer's balance. Every sale credits
 * the same merchant's escrow and the platform's fee, which used to be one row each that every sale
 * queued on. Against a raw-driver baseline that makes the same writes with the same SQL
 * (cart.add.sql.ts, checkout.sql.ts, balance-payment.ts, ledger/posting.ts), one transaction per
 * step, in the same run.
 *
 * Env: BENCH_DURATION seconds per run (15); BENCH_MONEY_PATH_BUYERS (200);
 * BENCH_SERVER_ROOT: another built checkout whose server (and migrations) to measure, e.g. the
 * commit before this change (the raw baseline then is skipped: its SQL is this checkout's).
 */

const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const BUYERS = Number(process.env.BENCH_MONEY_PATH_BUYERS ?? 200);
const FEE_BPS = 500;
const PRICE = 1999;
const POOL = 20;

const CART = `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename ... on Cart { id } ... on ErrorResult { errorCode message } } }`;
const CHECKOUT = `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { __typename ... on Checkout { id } ... on ErrorResult { errorCode message } } }`;
const PAY = `mutation($c: ID!, $k: String!) { paymentStart(checkoutId: $c, method: BALANCE, idempotencyKey: $k) { __typename ... on Payment { status } ... on ErrorResult { errorCode message } } }`;

interface Buyer {
  id: string;
  token: string;
  variant: string;
}

async function migratedDatabase(serverUrl: string, name: string, root: string): Promise<string> {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  await c.query(`drop database if exists ${name} with (force)`);
  await c.query(`create database ${name}`);
  await c.end();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  execFileSync(process.execPath, [join(root, 'dist/scripts/migrate.js')], {
    env: { ...process.env, DATABASE_URL: u.toString(), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  return u.toString();
}

/** One merchant, one product and variant per buyer (no stock row is shared: the merchant's money rows are). */
async function seed(pool: Pool, n: number): Promise<string[]> {
  const [{ id: merchant }] = (
    await pool.query(`insert into merchant (name) values ('One Shop') returning id`)
  ).rows;
  const products = (
    await pool.query(
      `insert into product (merchant_id, title, description) select $1, 'Item ' || g, 'For the money path benchmark.' from generate_series(1, $2) g returning id`,
      [merchant, n],
    )
  ).rows.map((r) => r.id as string);
  const variants = await pool.query(
    `insert into variant (product_id, merchant_id, sku, title, price, on_hand)
     select p, $1, 'MP-' || p, 'Default', $3, 1000000000 from unnest($2::bigint[]) p returning id`,
    [merchant, products, PRICE],
  );
  return variants.rows.map((r) => String(r.id)).sort((a, b) => Number(a) - Number(b));
}

const platform = new PostgreSqlPlatform();

/**
 * A statement as the server sends it (src/db/sql.ts, direct-sql.ts): values inlined by MikroORM's
 * formatter, simple protocol. Bound parameters would type a `$n` used both as text and as bigint
 * differently from the literal the server sends.
 */
async function run(c: PoolClient, sql: string, params: unknown[]) {
  const { text, bindings } = toKnexBindings(sql, params);
  return c.query(platform.formatQuery(text, bindings as any[]));
}

async function inTx<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    const r = await fn(c);
    await c.query('commit');
    return r;
  } catch (e) {
    await c.query('rollback');
    throw e;
  } finally {
    c.release();
  }
}

/** The raw-driver flow: the service's statements, one transaction per step, no HTTP/GraphQL/ORM. */
async function rawFlow(pool: Pool, b: Buyer, n: number): Promise<void> {
  // cartCreate (signed in): lock or create the active cart, add the line.
  const cartId = await inTx(pool, async (c) => {
    const [cart] = (await run(c, CUSTOMER_CART_SQL, [randomBytes(16).toString('base64url'), b.id])).rows;
    const [added] = (await run(c, ADD_LINES_SQL, [cart.id, [b.variant], [1], 100, 100])).rows;
    if (!added.ok) throw new Error('cart refused');
    return cart.id as string;
  });
  // checkoutCreate: claim and read, write, jobs, stock.
  const checkoutId = await inTx(pool, async (c) => {
    const rows = (await run(c, CLAIM_AND_READ_CART_SQL, [cartId, b.id, `raw-ck-${n}`, 'h'])).rows;
    const l = rows[0];
    const id = l.claimed_ref as string;
    const deadline = new Date(Date.now() + 3600_000);
    const total = Number(l.price) * l.quantity;
    await run(
      c,
      WRITE_CHECKOUT_SQL,
      oneLineCheckoutParams({
        checkoutId: id,
        buyerId: b.id,
        cartId,
        line: l,
        unitPrice: Number(l.price),
        subtotal: total,
        shippingFee: 0,
        deadline,
      }),
    );
    await run(
      c,
      `insert into bench_job (name, data, start_after) values ('snapshot.write', $1, now()), ('order.expire', $2, $3)`,
      [JSON.stringify(l), JSON.stringify({ checkoutId: id }), deadline],
    );
    const taken = await run(
      c,
      'update variant set reserved = reserved + $1 where id = $2 and on_hand - reserved - sold >= $1 returning id',
      [l.quantity, l.variant_id],
    );
    if (taken.rowCount !== 1) throw new Error('out of stock');
    return id;
  });
  // paymentStart(BALANCE): claim and read, settle, post.
  await inTx(pool, async (c) => {
    const [seen] = (await run(c, CLAIM_AND_READ_SQL, [b.id, `raw-pay-${n}`, 'h', checkoutId])).rows;
    const orders = seen.orders as { id: string; total: number; merchantId: string }[];
    const amount = orders.reduce((s, o) => s + Number(o.total), 0);
    const [payment] = (
      await run(c, SETTLE_SQL, [
        seen.payment_id,
        b.id,
        checkoutId,
        amount,
        null,
        orders.map((o) => o.id),
        orders.map((o) => Number(o.total)),
      ])
    ).rows;
    if (payment.paid !== orders.length) throw new Error('not paid');
    const posting = purchaseWithBalancePosting({
      buyerId: b.id,
      reference: `payment:${payment.id}`,
      parts: partsWithFee(
        orders.map((o) => ({
          merchantId: o.merchantId,
          amount: Number(o.total),
          reference: `order:${o.id}`,
        })),
        FEE_BPS,
      ),
    });
    const [r] = (await run(c, POST_SQL, postParams(posting, allocateStripes(posting, new Map())))).rows;
    if (!r.posting_id || !r.covered) throw new Error(`not posted: ${JSON.stringify(r)}`);
  });
}

/** The same flow through the server: three GraphQL mutations over HTTP. */
async function serverFlow(gqlUrl: string, b: Buyer, n: number, sql: number[]): Promise<void> {
  const cart = await post(
    gqlUrl,
    JSON.stringify({ query: CART, variables: { l: [{ variantId: b.variant, quantity: 1 }] } }),
    b.token,
  );
  if (cart.data?.cartCreate?.__typename !== 'Cart') throw new Error(JSON.stringify(cart));
  const ck = await post(
    gqlUrl,
    JSON.stringify({
      query: CHECKOUT,
      variables: {
        i: { cartId: cart.data.cartCreate.id, idempotencyKey: `ck-${n}`, shippingAddress: ADDRESS },
      },
    }),
    b.token,
  );
  if (ck.data?.checkoutCreate?.__typename !== 'Checkout') throw new Error(JSON.stringify(ck));
  const pay = await post(
    gqlUrl,
    JSON.stringify({ query: PAY, variables: { c: ck.data.checkoutCreate.id, k: `pay-${n}` } }),
    b.token,
  );
  if (pay.data?.paymentStart?.status !== 'SUCCEEDED') throw new Error(JSON.stringify(pay));
  if (sql.length === 0)
    sql.push(
      cart.extensions?.sqlStatements ?? NaN,
      ck.extensions?.sqlStatements ?? NaN,
      pay.extensions?.sqlStatements ?? NaN,
    );
}

/** Each buyer buys again as soon as their flow ends, all at once, for DURATION seconds. */
async function perBuyer(
  buyers: Buyer[],
  flow: (b: Buyer, n: number) => Promise<void>,
  serverPid?: number,
): Promise<{ rps: number; p50: number; p99: number; errors: number; cpuMs: string }> {
  const latencies: number[] = [];
  const cpu = cpuPerRequest(serverPid);
  let errors = 0;
  let n = 0;
  const started = Date.now();
  const end = started + DURATION * 1000;
  await Promise.all(
    buyers.map(async (b) => {
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        try {
          await flow(b, n++);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        } catch (e) {
          if (errors++ === 0) console.log(`first error: ${String(e).slice(0, 300)}`);
        }
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / ((Date.now() - started) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    cpuMs: cpu(latencies.length),
  };
}

export async function moneyPathBench(serverUrl: string): Promise<void> {
  const serverRoot = process.env.BENCH_SERVER_ROOT ?? ROOT;
  const withRaw = serverRoot === ROOT;
  const url = await migratedDatabase(serverUrl, 'bench_money_path', serverRoot);
  const pool = new Pool({ connectionString: url, max: POOL });
  const children: ChildProcess[] = [];
  try {
    await pool.query(
      'create table bench_job (id bigserial primary key, name text, data jsonb, start_after timestamptz default now())',
    );
    const variants = await seed(pool, BUYERS);
    const { child: app, gqlUrl } = await startBenchServer(
      { DATABASE_URL: url, DB_POOL_SIZE: String(POOL), PLATFORM_FEE_BPS: String(FEE_BPS), SHIPPING_FEE: '0' },
      { script: relative(ROOT, join(serverRoot, 'dist/src/main.js')) },
    );
    children.push(app);

    // Sign-ups hash passwords: a few at a time.
    const buyers: Buyer[] = new Array(BUYERS);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < BUYERS; i = next++) {
          const r = await post(
            gqlUrl,
            JSON.stringify({
              query: `mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token viewer { id } } } }`,
              variables: {
                i: {
                  email: `mp-${i}-${randomBytes(3).toString('hex')}@example.com`,
                  password: 'bench-password',
                  name: `Buyer ${i}`,
                },
              },
            }),
          );
          if (!r.data?.signUp?.token) throw new Error(`signUp failed: ${JSON.stringify(r).slice(0, 300)}`);
          buyers[i] = { id: r.data.signUp.viewer.id, token: r.data.signUp.token, variant: variants[i] };
        }
      }),
    );
    await fund(
      pool,
      buyers.map((b) => b.id),
      1_000_000_000,
    );

    if (withRaw) {
      // The merchant's escrow stripes exist from its first sale on; both runs start after it.
      await pool.query(
        `insert into ledger_account (owner_type, owner_id, kind, stripe)
         select 'MERCHANT', m.id, 'ESCROW', s from merchant m, generate_series(0, $1 - 1) s on conflict do nothing`,
        [LEDGER_STRIPES],
      );
    }
    const rows: Measured[] = [];
    const loops = (flow: (b: Buyer, n: number) => Promise<void>, serverPid?: number) =>
      perBuyer(buyers, flow, serverPid);
    if (withRaw) {
      const raw = await loops((b, n) => rawFlow(pool, b, n));
      rows.push({
        name: 'raw pg: the same statements, one transaction per step',
        ...raw,
        sqlPerRequest: '2+5+5',
        peakRssMb: '-',
      });
    }
    const sql: number[] = [];
    const ours = await loops((b, n) => serverFlow(gqlUrl, b, n, sql), app.pid);
    rows.push({
      name: `this server${withRaw ? '' : ` (${serverRoot})`}: cartCreate + checkoutCreate + paymentStart(BALANCE)`,
      ...ours,
      sqlPerRequest: sql.join('+'),
      peakRssMb: peakRssMb(app.pid!),
    });

    const [{ bad }] = (
      await pool.query(
        `select count(*)::int as bad from ledger_account where balance < 0 and kind <> 'PROVIDER_CLEARING'`,
      )
    ).rows;
    if (bad !== 0) throw new Error('a balance went negative during the benchmark');
    table(
      `Money path: ${BUYERS} buyers buying from one merchant at once (cart → checkout → pay by balance), flows per second, ${DURATION} s per run`,
      rows,
      rows[0],
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await pool.end();
    await new Promise((r) => setTimeout(r, 1000));
  }
}
