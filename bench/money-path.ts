import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { Client, Pool } from 'pg';
import { LEDGER_STRIPES } from '../src/modules/ledger/ledger';
import { ADDRESS } from './checkout';
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
import { CREATE_JOB_TABLE, PLATFORM_FEE_BPS, rawCart, rawCheckout, rawPay } from './money-path-steps';
import { fund } from './payment';

/**
 * The money path of issue 10: BUYERS buyers buy from ONE merchant at once, each flow a cart
 * (cartCreate, signed in), a checkout and a payment from the buyer's balance. Every sale credits
 * the same merchant's escrow and the platform's fee, which used to be one row each that every sale
 * queued on. In the same run, three ways to make the same writes with the same SQL, one
 * transaction per step (bench/money-path-steps.ts):
 *
 * - the baseline: a bare node:http + graphql-js + pg server (bench/money-path-baseline-server.ts),
 *   driven over HTTP exactly like this server;
 * - the same steps called in this process, no HTTP or GraphQL at all (what PostgreSQL alone allows);
 * - this server.
 *
 * Env: BENCH_DURATION seconds per contender (20), in BENCH_ROUNDS interleaved slices (4), after BENCH_WARMUP
 * seconds each not measured (5); BENCH_MONEY_PATH_BUYERS (200);
 * BENCH_SERVER_ROOT: another built checkout whose server (and migrations) to measure, e.g. the
 * commit before this change (the baselines then are skipped: their SQL is this checkout's).
 */

const DURATION = Number(process.env.BENCH_DURATION ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const BUYERS = Number(process.env.BENCH_MONEY_PATH_BUYERS ?? 200);
const PRICE = 1999;
const POOL = 20;
/** The server's token secret, shared with the bare baseline so it can read the same bearer tokens. */
const SECRET = randomBytes(32).toString('hex');

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

/** The raw-driver flow in this process: the service's statements, one transaction per step, no HTTP/GraphQL/ORM. */
async function rawFlow(pool: Pool, b: Buyer, key: string): Promise<void> {
  const cartId = await rawCart(pool, b.id, b.variant);
  const checkoutId = await rawCheckout(pool, b.id, cartId, `ck-${key}`);
  await rawPay(pool, b.id, checkoutId, `pay-${key}`);
}

/** The same flow through the server: three GraphQL mutations over HTTP. */
async function httpFlow(gqlUrl: string, b: Buyer, key: string, sql: number[]): Promise<void> {
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
        i: { cartId: cart.data.cartCreate.id, idempotencyKey: `ck-${key}`, shippingAddress: ADDRESS },
      },
    }),
    b.token,
  );
  if (ck.data?.checkoutCreate?.__typename !== 'Checkout') throw new Error(JSON.stringify(ck));
  const pay = await post(
    gqlUrl,
    JSON.stringify({ query: PAY, variables: { c: ck.data.checkoutCreate.id, k: `pay-${key}` } }),
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

interface Contender {
  name: string;
  flow: (b: Buyer, key: string) => Promise<void>;
  /** The server process whose CPU to report. */
  pid?: number;
  sql: () => string;
}

/**
 * Every contender runs ROUNDS times for DURATION / ROUNDS seconds, each buyer buying again as soon
 * as their flow ends, the order reversed every round (A B C, C B A, ...), so that neither the
 * database's growth nor autovacuum nor a neighbour's burst favours whoever runs first.
 */
async function interleaved(buyers: Buyer[], contenders: Contender[]): Promise<Measured[]> {
  const totals = contenders.map(() => ({
    latencies: [] as number[],
    errors: 0,
    seconds: 0,
    cpu: [] as string[],
  }));
  let n = 0;
  // Warm-up, not measured: JIT, pools, prepared caches, pg-boss's queues (each server's first
  // seconds ran at two thirds of its later speed).
  for (const c of contenders) {
    const end = Date.now() + WARMUP * 1000;
    await Promise.all(
      buyers.map(async (b) => {
        while (Date.now() < end) await c.flow(b, `warm-${n++}`).catch(() => undefined);
      }),
    );
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = contenders.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const c = contenders[i];
      const total = totals[i];
      const before = total.latencies.length;
      const cpu = cpuPerRequest(c.pid);
      const started = Date.now();
      const end = started + (DURATION * 1000) / ROUNDS;
      await Promise.all(
        buyers.map(async (b) => {
          while (Date.now() < end) {
            const t0 = process.hrtime.bigint();
            try {
              await c.flow(b, `r${round}-${n++}`);
              total.latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            } catch (e) {
              if (total.errors++ === 0) console.log(`${c.name}: first error: ${String(e).slice(0, 300)}`);
            }
          }
        }),
      );
      total.seconds += (Date.now() - started) / 1000;
      total.cpu.push(cpu(total.latencies.length - before));
    }
  }
  return contenders.map((c, i) => {
    const t = totals[i];
    t.latencies.sort((x, y) => x - y);
    return {
      name: c.name,
      rps: t.latencies.length / t.seconds,
      p50: percentile(t.latencies, 50),
      p99: percentile(t.latencies, 99),
      errors: t.errors,
      sqlPerRequest: c.sql(),
      peakRssMb: c.pid ? peakRssMb(c.pid) : '-',
      cpuMs: t.cpu.join(' / '),
    };
  });
}

export async function moneyPathBench(serverUrl: string): Promise<void> {
  const serverRoot = process.env.BENCH_SERVER_ROOT ?? ROOT;
  const withBaselines = serverRoot === ROOT;
  const url = await migratedDatabase(serverUrl, 'bench_money_path', serverRoot);
  const pool = new Pool({ connectionString: url, max: POOL });
  const children: ChildProcess[] = [];
  try {
    await pool.query(CREATE_JOB_TABLE);
    const variants = await seed(pool, BUYERS);
    const { child: app, gqlUrl } = await startBenchServer(
      {
        DATABASE_URL: url,
        DB_POOL_SIZE: String(POOL),
        PLATFORM_FEE_BPS: String(PLATFORM_FEE_BPS),
        SHIPPING_FEE: '0',
        JWT_SECRET: SECRET,
      },
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

    // The merchant's escrow stripes exist from its first sale on; every run starts after it. (A
    // checkout measured with BENCH_SERVER_ROOT may predate stripes: it makes its accounts itself.)
    if (withBaselines)
      await pool.query(
        `insert into ledger_account (owner_type, owner_id, kind, stripe)
       select 'MERCHANT', m.id, 'ESCROW', s from merchant m, generate_series(0, $1 - 1) s on conflict do nothing`,
        [LEDGER_STRIPES],
      );
    const contenders: Contender[] = [];
    if (withBaselines) {
      const bare = await startBenchServer(
        { DATABASE_URL: url, DB_POOL_SIZE: String(POOL), JWT_SECRET: SECRET },
        { script: 'dist/bench/money-path-baseline-server.js' },
      );
      children.push(bare.child);
      const bareSql: number[] = [];
      contenders.push(
        {
          name: 'baseline: bare node:http + graphql-js + pg, the same statements, one transaction per mutation',
          flow: (b, k) => httpFlow(bare.gqlUrl, b, k, bareSql),
          pid: bare.child.pid,
          sql: () => bareSql.join('+'),
        },
        {
          name: 'the same steps in the benchmark process (no HTTP, no GraphQL)',
          flow: (b, k) => rawFlow(pool, b, k),
          sql: () => '4+6+5',
        },
      );
    }
    const sql: number[] = [];
    contenders.push({
      name: `this server${withBaselines ? '' : ` (${serverRoot})`}: cartCreate + checkoutCreate + paymentStart(BALANCE)`,
      flow: (b, k) => httpFlow(gqlUrl, b, k, sql),
      pid: app.pid,
      sql: () => sql.join('+'),
    });
    const rows = await interleaved(buyers, contenders);

    const [{ bad }] = (
      await pool.query(
        `select count(*)::int as bad from ledger_account where balance < 0 and kind <> 'PROVIDER_CLEARING'`,
      )
    ).rows;
    if (bad !== 0) throw new Error('a balance went negative during the benchmark');
    table(
      `Money path: ${BUYERS} buyers buying from one merchant at once (cart → checkout → pay by balance), flows per second, ${DURATION} s per run in ${ROUNDS} interleaved rounds (CPU ms per flow by round)`,
      rows,
      rows[0],
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await pool.end();
    await new Promise((r) => setTimeout(r, 1000));
  }
}
