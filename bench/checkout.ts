import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { CART_READ_SQL } from '../src/modules/checkout/checkout.sql';
import { WRITE_CHECKOUT_SQL, writeCheckoutParams } from '../src/modules/order/order.store';
import { closedLoop, peakRssMb, post, ROOT, table, type Measured, startBenchServer } from './lib';

const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONCURRENCY = Number(process.env.BENCH_CHECKOUT_CONCURRENCY ?? 50);
const VARIANTS = 1000;
const CUSTOMERS = 50;

export const CHECKOUT = `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { __typename ... on Checkout { id } ... on ErrorResult { errorCode message } } }`;
export const ADDRESS = {
  name: 'Bench Buyer',
  line1: '1 Main St',
  city: 'Berlin',
  postalCode: '10115',
  country: 'DE',
};

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** A fresh, migrated database for one benchmark run. */
export async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  await c.query(`drop database if exists ${name} with (force)`);
  await c.query(`create database ${name}`);
  await c.end();
  const url = withDatabase(serverUrl, name);
  execFileSync(process.execPath, [join(ROOT, 'dist/scripts/migrate.js')], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  return url;
}

/** One merchant with VARIANTS single-variant products of practically unlimited stock. */
export async function seedVariants(pool: Pool): Promise<string[]> {
  const [{ id: merchant }] = (
    await pool.query(`insert into merchant (name) values ('Bench Shop') returning id`)
  ).rows;
  const products = (
    await pool.query(
      `insert into product (merchant_id, title, description) select $1, 'Bench product ' || g, 'For the checkout benchmark.' from generate_series(1, $2) g returning id`,
      [merchant, VARIANTS],
    )
  ).rows.map((r) => r.id as string);
  const variants = await pool.query(
    `insert into variant (product_id, merchant_id, sku, title, price, on_hand)
     select p, $1, 'B-' || p, 'Default', 1999, 1000000000 from unnest($2::bigint[]) p returning id`,
    [merchant, products],
  );
  return variants.rows.map((r) => String(r.id)).sort((a, b) => Number(a) - Number(b));
}

/** `n` anonymous one-line carts, each for the variant `pick(i)` chooses. */
export async function makeCarts(pool: Pool, n: number, pick: (i: number) => string): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomBytes(16).toString('base64url'));
  await pool.query('insert into cart (id) select unnest($1::text[])', [ids]);
  await pool.query(
    'insert into cart_line (cart_id, variant_id, quantity) select c, v, 1 from unnest($1::text[], $2::bigint[]) as u(c, v)',
    [ids, ids.map((_, i) => pick(i))],
  );
  return ids;
}

/** A cart line as CART_READ_SQL returns it (the columns the raw checkout writes). */
type CartLineRow = Record<string, any>;

/**
 * The checkout write's parameters for a cart of one line, one merchant, no discounts: what the
 * raw-pg baselines (this bench and bench/money-path.ts) write with the server's own statement.
 */
export function oneLineCheckoutParams(o: {
  checkoutId: string;
  buyerId: string;
  cartId: string;
  line: CartLineRow;
  unitPrice: number;
  subtotal: number;
  shippingFee: number;
  deadline: Date;
}) {
  const { line: l, subtotal, shippingFee } = o;
  const total = subtotal + shippingFee;
  const money = { subtotal, discount: 0, pointsDiscount: 0, pointsUsed: 0, shippingFee, total };
  return writeCheckoutParams(
    {
      checkoutId: o.checkoutId,
      buyerId: o.buyerId,
      cartId: o.cartId,
      ...money,
      couponCode: null,
      shippingAddress: ADDRESS,
      paymentDeadline: o.deadline,
      orders: [{ merchantId: l.merchant_id, ...money }],
      lines: [
        {
          merchantId: l.merchant_id,
          variantId: l.variant_id,
          productId: l.product_id,
          sku: l.sku,
          title: `${l.product_title} (${l.variant_title})`,
          attributes: l.attributes,
          stockPolicy: l.stock_policy,
          quantity: l.quantity,
          unitPrice: o.unitPrice,
          subtotal,
          discount: 0,
          pointsDiscount: 0,
          total: subtotal,
          snapshotDigest: 'digest',
        },
      ],
    },
    { maxUnpaid: 10000, maxHeldUnits: 1000000, newUnits: l.quantity },
  );
}

/**
 * The raw-driver baseline: one checkout's statements (the same SQL text as CheckoutService, from
 * checkout.sql.ts) in one transaction with `pg`, with no HTTP, GraphQL, ORM, pricing module or job
 * library; the two jobs go to a plain table in one insert.
 */
export async function rawCheckout(pool: Pool, buyerId: string, cartId: string): Promise<string> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    const key = randomBytes(8).toString('hex');
    const claim = await c.query(
      `insert into idempotency_key (caller_id, scope, key, request_hash, result_ref) values ($1, 'checkout', $2, 'h', next_order_id($1)::text)
       on conflict do nothing returning result_ref`,
      [buyerId, key],
    );
    const checkoutId = claim.rows[0].result_ref;
    const [l] = (await c.query(CART_READ_SQL, [cartId, buyerId])).rows;
    const deadline = new Date(Date.now() + 3600_000);
    const price = Number(l.price);
    const fee = price >= 5000 ? 0 : 499;
    await c.query(
      WRITE_CHECKOUT_SQL,
      oneLineCheckoutParams({
        checkoutId,
        buyerId,
        cartId,
        line: l,
        unitPrice: price,
        subtotal: price,
        shippingFee: fee,
        deadline,
      }),
    );
    await c.query(
      `insert into bench_job (name, data, start_after) values ('snapshot.write', $1, now()), ('order.expire', $2, $3)`,
      [JSON.stringify(l), JSON.stringify({ checkoutId }), deadline],
    );
    const taken = await c.query(
      'update variant set reserved = reserved + $1 where id = $2 and on_hand - reserved - sold >= $1 returning id',
      [l.quantity, l.variant_id],
    );
    if (taken.rowCount !== 1) throw new Error('out of stock');
    await c.query('commit');
    return checkoutId;
  } catch (e) {
    await c.query('rollback');
    throw e;
  } finally {
    c.release();
  }
}

/** pgbench of the one statement that bounds a hot variant: the conditional decrement of one row. */
function pgbenchHotRow(url: string): Measured | null {
  if (spawnSync('pgbench', ['--version']).status !== 0) return null;
  const script = join(tmpdir(), `hot-row-${process.pid}.sql`);
  writeFileSync(script, 'UPDATE bench_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1;\n');
  const r = spawnSync(
    'pgbench',
    ['-n', '-c', String(CONCURRENCY), '-j', '2', '-T', String(DURATION), '-f', script, url],
    { encoding: 'utf8' },
  );
  const tps = /tps = ([\d.]+)/.exec(r.stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(r.stdout)?.[1];
  if (!tps) return null;
  return {
    name: 'pgbench: one-row conditional decrement (the hot-row limit)',
    rps: Number(tps),
    p50: Number(latency),
    p99: NaN,
    errors: 0,
    sqlPerRequest: 1,
    peakRssMb: '-',
  };
}

/**
 * Checkouts per second at 50 concurrent clients, one line each, spread over 1,000 variants and all
 * on one hot variant, against pgbench's one-row decrement and the same transaction on raw `pg`.
 */
export async function checkoutBench(serverUrl: string): Promise<void> {
  const url = await freshDatabase(serverUrl, 'bench_checkout');
  const pool = new Pool({ connectionString: url, max: 20 });
  const children: ChildProcess[] = [];
  try {
    await pool.query(
      'create table bench_stock (id int primary key, stock bigint not null); insert into bench_stock values (1, 1000000000000)',
    );
    await pool.query(
      'create table bench_job (id bigserial primary key, name text, data jsonb, start_after timestamptz default now())',
    );
    const variants = await seedVariants(pool);

    const { child: app, gqlUrl } = await startBenchServer({ DATABASE_URL: url });
    children.push(app);

    const customers: { id: string; token: string }[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const r = await post(
        gqlUrl,
        JSON.stringify({
          query: `mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token viewer { id } } } }`,
          variables: {
            i: {
              email: `bench-${i}-${randomBytes(3).toString('hex')}@example.com`,
              password: 'bench-password',
              name: `Bench ${i}`,
            },
          },
        }),
      );
      customers.push({ id: r.data.signUp.viewer.id, token: r.data.signUp.token });
    }

    const rows: Measured[] = [];
    const hotRow = pgbenchHotRow(url);
    if (hotRow) rows.push(hotRow);
    else console.log('pgbench not on PATH: the hot-row baseline is skipped');

    const scenarios: [string, (i: number) => string][] = [
      ['spread over 1,000 variants', (i) => variants[i % variants.length]],
      ['all on one hot variant', () => variants[0]],
    ];
    let sqlPerCheckout = NaN;
    for (const [label, pick] of scenarios) {
      // Raw pg baseline.
      const rawCarts = await makeCarts(pool, 40_000, pick);
      let rc = 0;
      const raw = await closedLoop(CONCURRENCY, DURATION * 1000, async () => {
        const i = rc++;
        if (i >= rawCarts.length) return false;
        await rawCheckout(pool, customers[i % CUSTOMERS].id, rawCarts[i]);
        return true;
      });
      rows.push({ name: `raw pg transaction, ${label}`, ...raw, sqlPerRequest: 7, peakRssMb: '-' });

      // This server over HTTP.
      const carts = await makeCarts(pool, 20_000, pick);
      let ac = 0;
      const ours = await closedLoop(CONCURRENCY, DURATION * 1000, async () => {
        const i = ac++;
        if (i >= carts.length) return false;
        const c = customers[i % CUSTOMERS];
        const r = await post(
          gqlUrl,
          JSON.stringify({
            query: CHECKOUT,
            variables: {
              i: {
                cartId: carts[i],
                idempotencyKey: `${label.length}-${pick(0)}-${i}`,
                shippingAddress: ADDRESS,
              },
            },
          }),
          c.token,
        );
        if (r.data?.checkoutCreate?.__typename !== 'Checkout') throw new Error(JSON.stringify(r));
        if (Number.isNaN(sqlPerCheckout)) sqlPerCheckout = r.extensions?.sqlStatements;
        return true;
      });
      rows.push({
        name: `this server (HTTP + GraphQL), ${label}`,
        ...ours,
        sqlPerRequest: sqlPerCheckout,
        peakRssMb: peakRssMb(app.pid!),
      });
    }
    const [{ oversold }] = (
      await pool.query('select count(*)::int as oversold from variant where on_hand - reserved - sold < 0')
    ).rows;
    if (oversold !== 0) throw new Error('oversold stock after the benchmark');
    table(
      `Checkout: ${CONCURRENCY} concurrent clients, one line per checkout, ${DURATION} s per run`,
      rows,
      rows[0],
    );
    console.log(
      'Ratios are to the first row. The raw transaction runs in the benchmark process without HTTP or GraphQL.',
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await pool.end();
    await new Promise((r) => setTimeout(r, 1000));
  }
}
