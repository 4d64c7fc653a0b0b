import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { insertOldOrders, insertOwners, type Owners } from './archive-data';
import { ADDRESS, CHECKOUT, freshDatabase, makeCarts, seedVariants } from './checkout';
import { closedLoop, post, ROOT, table, type Measured, startBenchServer } from './lib';

const TOTAL = Number(process.env.BENCH_ARCHIVE_ORDERS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ARCHIVE_ROUNDS ?? 5);
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONCURRENCY = Number(process.env.BENCH_ARCHIVE_CONCURRENCY ?? 20);
/** Old orders waiting while checkout latency is measured (enough to keep the job busy for the run). */
const BACKLOG = Number(process.env.BENCH_ARCHIVE_BACKLOG ?? 200_000);
const CUSTOMERS = 20;
/** Orders per generating statement (bounded so one statement stays a few seconds). */
const CHUNK = 100_000;

interface JobRun {
  orders: number;
  batches: number;
  ms: number;
  hot: number;
  archived: number;
}

/** The archive job as an operator runs it (`npm run archive`, the same code as the cron job). */
function archiveJob(
  url: string,
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<JobRun> } {
  const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/archive-orders.js')], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      DATA_DIR: join(ROOT, '.data', 'bench'),
      LOG_LEVEL: 'warn',
      ARCHIVE_AFTER_DAYS: '30',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const done = new Promise<JobRun>((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`archive job exited ${code}: ${out}`)),
    ),
  );
  return { child, done };
}

async function oldOrders(pool: Pool, owners: Owners, count: number, offsetMs: number): Promise<number> {
  const t0 = Date.now();
  for (let done = 0; done < count; done += CHUNK) {
    await insertOldOrders((s, p) => pool.query(s, p), {
      ...owners,
      count: Math.min(CHUNK, count - done),
      ageSeconds: 100 * 86_400,
      offsetMs: offsetMs + done,
    });
  }
  return Date.now() - t0;
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/**
 * Hot and cold orders (issue 14, docs/archive.md): the archive job's throughput, the hot table's
 * size while total orders grow to BENCH_ARCHIVE_ORDERS (1,000,000, generated with SQL in
 * BENCH_ARCHIVE_ROUNDS rounds, each archived before the next), and checkout latency at 20
 * concurrent clients with and without the job running over a backlog of old orders.
 */
export async function archiveBench(serverUrl: string): Promise<void> {
  const url = await freshDatabase(serverUrl, 'bench_archive');
  const pool = new Pool({ connectionString: url, max: 10 });
  const children: ChildProcess[] = [];
  try {
    const owners = await insertOwners((s, p) => pool.query(s, p), 'bench');
    const size = async () =>
      (
        await pool.query(`select (select count(*) from shop_order)::int as hot,
          (select count(*) from archive.shop_order)::int as archived,
          pg_total_relation_size('public.shop_order') + pg_total_relation_size('public.order_line')
            + pg_total_relation_size('public.order_event') + pg_total_relation_size('public.shipment')
            + pg_total_relation_size('public.tracking_event') as hot_bytes,
          pg_total_relation_size('public.shop_order') as hot_order_bytes,
          (select sum(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'archive' and c.relkind = 'r')::bigint as archive_bytes`)
      ).rows[0];

    // 1. Growth: the hot tables stay the same size while the archive takes the growth.
    console.log(`\nArchive: ${TOTAL} old orders in ${ROUNDS} rounds (each round generated, then archived)\n`);
    console.log(
      '| round | orders in total | generated in s | archived orders/s | hot orders after | hot tables MB (shop_order MB) | archive MB |',
    );
    console.log('|---|---|---|---|---|---|---|');
    const perRound = Math.ceil(TOTAL / ROUNDS);
    let offset = 0;
    const rates: number[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const genMs = await oldOrders(pool, owners, perRound, offset);
      offset += perRound + 1000;
      const run = await archiveJob(url).done;
      // Autovacuum's work, done at once so every round is measured alike: the space of moved rows is
      // reused by the next round's inserts.
      await pool.query('vacuum shop_order, order_line, order_event, shipment, tracking_event');
      const s = await size();
      rates.push(run.orders / (run.ms / 1000));
      console.log(
        `| ${r} | ${s.hot + s.archived} | ${(genMs / 1000).toFixed(0)} | ${rates.at(-1)!.toFixed(0)} | ${s.hot} | ${mb(Number(s.hot_bytes))} (${mb(Number(s.hot_order_bytes))}) | ${mb(Number(s.archive_bytes))} |`,
      );
    }

    // 2. Checkout latency with and without the job running.
    const variants = await seedVariants(pool);
    const { child: app, gqlUrl } = await startBenchServer({
      DATABASE_URL: url,
      ARCHIVE_AFTER_DAYS: '0', // the bench runs the job itself
    });
    children.push(app);
    const customers: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const r = await post(
        gqlUrl,
        JSON.stringify({
          query: `mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token } } }`,
          variables: {
            i: {
              email: `arch-${i}-${randomBytes(3).toString('hex')}@example.com`,
              password: 'bench-password',
              name: 'B',
            },
          },
        }),
      );
      customers.push(r.data.signUp.token);
    }
    const carts = await makeCarts(pool, 60_000, (i) => variants[i % variants.length]);
    let next = 0;
    const checkoutLoop = (until: () => boolean) =>
      closedLoop(CONCURRENCY, DURATION * 1000, async () => {
        if (until()) return false;
        const i = next++;
        const r = await post(
          gqlUrl,
          JSON.stringify({
            query: CHECKOUT,
            variables: { i: { cartId: carts[i], idempotencyKey: `a-${i}`, shippingAddress: ADDRESS } },
          }),
          customers[i % CUSTOMERS],
        );
        if (r.data?.checkoutCreate?.__typename !== 'Checkout') throw new Error(JSON.stringify(r));
        return true;
      });

    const rows: Measured[] = [];
    const quiet = await checkoutLoop(() => false);
    rows.push({ name: 'checkout, no archive job', ...quiet, sqlPerRequest: '-', peakRssMb: '-' });
    const jobRuns: string[] = [];
    for (const [label, env] of [
      ['batches of 500, no pause (default)', {}],
      ['batches of 500, ARCHIVE_BATCH_PAUSE_MS=100', { ARCHIVE_BATCH_PAUSE_MS: '100' }],
    ] as const) {
      await oldOrders(pool, owners, BACKLOG, offset);
      offset += BACKLOG + 1000;
      await pool.query('vacuum analyze shop_order');
      const job = archiveJob(url, env);
      children.push(job.child);
      let finished = false;
      void job.done.then(() => (finished = true)).catch(() => (finished = true));
      const t0 = Date.now();
      const busy = await checkoutLoop(() => finished);
      const overlapS = (Date.now() - t0) / 1000;
      const run = await job.done;
      rows.push({
        name: `checkout while the job archives, ${label}`,
        ...busy,
        sqlPerRequest: '-',
        peakRssMb: '-',
      });
      jobRuns.push(
        `${label}: ${run.orders} orders in ${(run.ms / 1000).toFixed(1)} s = ${(run.orders / (run.ms / 1000)).toFixed(0)} orders/s with checkout load (overlap ${overlapS.toFixed(0)} s)`,
      );
    }
    table(
      `Checkout during archiving: ${CONCURRENCY} concurrent clients, up to ${DURATION} s per run, backlog ${BACKLOG} old orders`,
      rows,
      rows[0],
    );
    console.log(`Archive job alone: ${rates.map((r) => r.toFixed(0)).join(', ')} orders/s per round`);
    for (const l of jobRuns) console.log(`Archive job under checkout load, ${l}`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await pool.end();
    await new Promise((r) => setTimeout(r, 1000));
  }
}
