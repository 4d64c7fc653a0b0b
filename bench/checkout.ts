import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { freePort } from '../src/db/embedded';
import { closedLoop, peakRssMb, post, ROOT, startChild, table, waitFor, type Measured } from './lib';

const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONCURRENCY = Number(process.env.BENCH_CHECKOUT_CONCURRENCY ?? 50);
const VARIANTS = 1000;
const CUSTOMERS = 50;

const CHECKOUT = `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { __typename ... on Checkout { id } ... on ErrorResult { errorCode message } } }`;
const ADDRESS = { name: 'Bench Buyer', line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' };

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** A fresh, migrated database for one benchmark run. */
async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  await c.query(`drop database if exists ${name} with (force)`);
  await c.query(`create database ${name}`);
  await c.end();
  const url = withDatabase(serverUrl, name);
  execFileSync(process.execPath, [join(ROOT, 'dist/scripts/migrate.js')], { env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  return url;
}

/** One merchant with VARIANTS single-variant products of practically unlimited stock. */
async function seedVariants(pool: Pool): Promise<string[]> {
  const [{ id: merchant }] = (await pool.query(`insert into merchant (name) values ('Bench Shop') returning id`)).rows;
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
async function makeCarts(pool: Pool, n: number, pick: (i: number) => string): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomBytes(16).toString('base64url'));
  await pool.query('insert into cart (id) select unnest($1::text[])', [ids]);
  await pool.query('insert into cart_line (cart_id, variant_id, quantity) select c, v, 1 from unnest($1::text[], $2::bigint[]) as u(c, v)', [
    ids,
    ids.map((_, i) => pick(i)),
  ]);
  return ids;
}

/**
 * The raw-driver baseline: the statements of one checkout (as CheckoutService issues them) in one
 * transaction with `pg`, with no HTTP, GraphQL, ORM or job library. The two job inserts go to a
 * plain table instead of pg-boss's.
 */
async function rawCheckout(pool: Pool, buyerId: string, cartId: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    const key = randomBytes(8).toString('hex');
    await c.query(`insert into idempotency_key (caller_id, scope, key, request_hash, result_ref) values ($1, 'checkout', $2, 'h', '') on conflict do nothing returning key`, [buyerId, key]);
    await c.query('select id, customer_id, status, coupon_code from cart where id = $1 for update', [cartId]);
    const lines = (
      await c.query(
        `select cl.variant_id, cl.quantity, v.price, v.sku, v.title as variant_title, v.attributes, v.merchant_id,
                p.id as product_id, p.title as product_title, p.description, p.images, p.collections, p.category_id, p.stock_policy
           from cart_line cl join variant v on v.id = cl.variant_id join product p on p.id = v.product_id where cl.cart_id = $1 order by v.id`,
        [cartId],
      )
    ).rows;
    await c.query('select points from app_user where id = $1', [buyerId]);
    await c.query('select * from promotion where active and (starts_at is null or starts_at <= $1) and (ends_at is null or ends_at > $1) order by id', [new Date()]);
    const ids = (await c.query('select next_order_id($1) as id from generate_series(0, 1)', [buyerId])).rows.map((r) => r.id);
    const l = lines[0];
    const taken = await c.query('update variant set reserved = reserved + $1 where id = $2 and on_hand - reserved - sold >= $1 returning id', [l.quantity, l.variant_id]);
    if (taken.rowCount !== 1) throw new Error('out of stock');
    const deadline = new Date(Date.now() + 3600_000);
    const total = Number(l.price) + 499;
    await c.query(
      `insert into checkout (id, buyer_id, cart_id, subtotal, discount, points_discount, points_used, shipping_fee, total, coupon_code, shipping_address, payment_deadline)
       values ($1, $2, $3, $4, 0, 0, 0, 499, $5, null, $6, $7)`,
      [ids[0], buyerId, cartId, l.price, total, JSON.stringify(ADDRESS), deadline],
    );
    await c.query(
      `insert into shop_order (id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address, payment_deadline)
       select id, $1, $2, m, 'PENDING_PAYMENT', $5, 0, 0, 0, 499, $6, $3, $4 from unnest($7::bigint[], $8::bigint[]) as u(id, m)`,
      [ids[0], buyerId, JSON.stringify(ADDRESS), deadline, l.price, total, [ids[1]], [l.merchant_id]],
    );
    await c.query(
      `insert into order_line (order_id, buyer_id, variant_id, product_id, sku, title, attributes, stock_policy, quantity, unit_price, subtotal, discount, points_discount, total, snapshot_digest)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 0, 0, $10, $11)`,
      [ids[1], buyerId, l.variant_id, l.product_id, l.sku, l.product_title, JSON.stringify(l.attributes), l.stock_policy, l.quantity, l.price, 'digest'],
    );
    await c.query('insert into stock_reservation (variant_id, order_id, quantity, expires_at) values ($1, $2, $3, $4)', [l.variant_id, ids[1], l.quantity, deadline]);
    await c.query(`insert into order_event (order_id, buyer_id, merchant_id, seq, type, status) values ($1, $2, $3, 1, 'STATUS_CHANGED', 'PENDING_PAYMENT')`, [ids[1], buyerId, l.merchant_id]);
    await c.query(`update cart set status = 'CONVERTED', updated_at = now() where id = $1`, [cartId]);
    await c.query(`insert into bench_job (name, data) values ('snapshot.write', $1)`, [JSON.stringify(l)]);
    await c.query(`insert into bench_job (name, data, start_after) values ('order.expire', $1, $2)`, [JSON.stringify({ checkoutId: ids[0] }), deadline]);
    await c.query(`update idempotency_key set result_ref = $3 where caller_id = $1 and scope = 'checkout' and key = $2`, [buyerId, key, ids[0]]);
    await c.query('commit');
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
  const r = spawnSync('pgbench', ['-n', '-c', String(CONCURRENCY), '-j', '2', '-T', String(DURATION), '-f', script, url], { encoding: 'utf8' });
  const tps = /tps = ([\d.]+)/.exec(r.stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(r.stdout)?.[1];
  if (!tps) return null;
  return { name: 'pgbench: one-row conditional decrement (the hot-row limit)', rps: Number(tps), p50: Number(latency), p99: NaN, errors: 0, sqlPerRequest: 1, peakRssMb: '-' };
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
    await pool.query('create table bench_stock (id int primary key, stock bigint not null); insert into bench_stock values (1, 1000000000000)');
    await pool.query('create table bench_job (id bigserial primary key, name text, data jsonb, start_after timestamptz default now())');
    const variants = await seedVariants(pool);

    const port = await freePort();
    const app = startChild('dist/src/main.js', {
      DATABASE_URL: url,
      PORT: String(port),
      DEMO_DATA: 'false',
      EXPOSE_SQL_STATS: 'true',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      ADMIN_PASSWORD: 'bench-admin-password',
      DB_POOL_SIZE: '20',
      PAYMENT_WINDOW_SECONDS: '3600',
      DATA_DIR: join(ROOT, '.data', 'bench'),
    });
    children.push(app);
    const gqlUrl = `http://127.0.0.1:${port}/graphql`;
    await waitFor(gqlUrl, JSON.stringify({ query: '{ __typename }' }));

    const customers: { id: string; token: string }[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const r = await post(gqlUrl, JSON.stringify({
        query: `mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token viewer { id } } } }`,
        variables: { i: { email: `bench-${i}-${randomBytes(3).toString('hex')}@example.com`, password: 'bench-password', name: `Bench ${i}` } },
      }));
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
      rows.push({ name: `raw pg transaction, ${label}`, ...raw, sqlPerRequest: 18, peakRssMb: '-' });

      // This server over HTTP.
      const carts = await makeCarts(pool, 20_000, pick);
      let ac = 0;
      const ours = await closedLoop(CONCURRENCY, DURATION * 1000, async () => {
        const i = ac++;
        if (i >= carts.length) return false;
        const c = customers[i % CUSTOMERS];
        const r = await post(gqlUrl, JSON.stringify({ query: CHECKOUT, variables: { i: { cartId: carts[i], idempotencyKey: `${label.length}-${pick(0)}-${i}`, shippingAddress: ADDRESS } } }), c.token);
        if (r.data?.checkoutCreate?.__typename !== 'Checkout') throw new Error(JSON.stringify(r));
        if (Number.isNaN(sqlPerCheckout)) sqlPerCheckout = r.extensions?.sqlStatements;
        return true;
      });
      rows.push({ name: `this server (HTTP + GraphQL), ${label}`, ...ours, sqlPerRequest: sqlPerCheckout, peakRssMb: peakRssMb(app.pid!) });
    }
    const [{ oversold }] = (await pool.query('select count(*)::int as oversold from variant where on_hand - reserved - sold < 0')).rows;
    if (oversold !== 0) throw new Error('oversold stock after the benchmark');
    table(`Checkout: ${CONCURRENCY} concurrent clients, one line per checkout, ${DURATION} s per run`, rows, rows[0]);
    console.log('Ratios are to the first row. The raw transaction runs in the benchmark process without HTTP or GraphQL.');
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await pool.end();
    await new Promise((r) => setTimeout(r, 1000));
  }
}
