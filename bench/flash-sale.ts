import 'reflect-metadata';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { Redis } from 'ioredis';
import pino from 'pino';
import { startApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import { freePort } from '../src/db/embedded';
import { Role } from '../src/modules/identity/user.entity';
import { FlashSaleWorker } from '../src/modules/flashsale/flashsale.worker';
import { freshDatabase, seedVariants } from './checkout';
import { closedLoop, percentile, table, type Measured } from './lib';

/**
 * Flash-sale entry decisions per second and latency, with the Redis gate and with PostgreSQL
 * only, against pgbench's single-row conditional update (the limit of a hot SKU's row) measured in
 * the same run; and orders created per second by the workers.
 *
 * Decisions are measured at the service (FlashSaleService.enter, in this process), the part the
 * gate decides; the GraphQL/HTTP layer in front of it scales out with server processes. With
 * Redis, an acceptance is answered once the entry is in PostgreSQL (the line persister's group
 * commit), so the acceptance rows include that wait; refusals need nothing but the Lua decision.
 * Env: BENCH_DURATION (seconds per closed-loop run, 10), BENCH_SHOPPERS (10000), BENCH_ARRIVALS
 * (shoppers per second of the open-loop run, 2500), BENCH_CONNECTIONS_FLASH (its bounded run, 64).
 */

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const SHOPPERS = Number(process.env.BENCH_SHOPPERS ?? 10_000);
/** BENCH_ARRIVALS: shoppers per second of the open-loop run; BENCH_CONNECTIONS_FLASH: its bounded run. */
const ARRIVALS = Number(process.env.BENCH_ARRIVALS ?? 2500);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS_FLASH ?? 64);
const PGBENCH = ['pgbench', '/usr/lib/postgresql/15/bin/pgbench'].find(
  (p) => spawnSync(p, ['--version']).status === 0,
);

function pgbenchRow(url: string): Measured | null {
  if (!PGBENCH) return null;
  const script = join(tmpdir(), `flash-row-${process.pid}.sql`);
  writeFileSync(script, 'UPDATE bench_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1;\n');
  const r = spawnSync(PGBENCH, ['-n', '-c', '50', '-j', '2', '-T', String(DURATION), '-f', script, url], {
    encoding: 'utf8',
  });
  const tps = /tps = ([\d.]+)/.exec(r.stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(r.stdout)?.[1];
  if (!tps) return null;
  return {
    name: 'pgbench: single-row conditional update (the hot-row limit), 50 clients',
    rps: Number(tps),
    p50: Number(latency),
    p99: NaN,
    errors: 0,
    sqlPerRequest: 1,
    peakRssMb: '-',
  };
}

async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 10_000; ;) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch (err) {
      probe.disconnect();
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { url, child };
}

async function bootApp(url: string, redisUrl: string | null): Promise<App> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-flash-'));
  const config = loadConfig({
    NODE_ENV: 'development',
    DATABASE_URL: url,
    PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
    CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
    CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
    PORT: '0',
    DATA_DIR: dataDir,
    DEMO_DATA: 'false',
    LOG_LEVEL: 'error',
    ADMIN_PASSWORD: 'bench-admin-password',
    DB_POOL_SIZE: '20',
    FLASH_SALE_WORKER: 'false', // decisions alone first; the workers are measured on their own
    FLASH_SALE_PAYMENT_WINDOW_SECONDS: '3600',
    FLASH_SALE_BATCH_SIZE: process.env.FLASH_SALE_BATCH_SIZE ?? '200',
    ...(redisUrl ? { REDIS_URL: redisUrl, FLASH_SALE_REDIS_PREFIX: `bench${Date.now()}` } : {}),
  });
  return startApp(config, pino({ level: 'error' }));
}

async function customers(pool: Pool, n: number): Promise<string[]> {
  const r = await pool.query(
    `insert into app_user (email, password_hash, name) select 'shopper-' || g || '-' || $2 || '@bench.local', 'x', 'S'
       from generate_series(1, $1) g returning id`,
    [n, Date.now()],
  );
  return r.rows.map((x) => String(x.id));
}

async function sale(app: App, variantId: string, quantity: number, limit: number): Promise<string> {
  const admin = { userId: '0', roles: [Role.ADMIN], merchantId: null };
  const s = await app.services.flashSales.create(app.orm.em.fork() as any, admin, {
    variantId,
    price: '1.00',
    quantity,
    perCustomerLimit: limit,
    startsAt: new Date(Date.now() - 1000),
    endsAt: new Date(Date.now() + 3_600_000),
  });
  return String(s.id);
}

/** Every shopper at once (a burst): how long until all are decided, and each one's latency. */
async function burst(app: App, saleId: string, shoppers: string[], tag: string) {
  const lat: number[] = [];
  let errors = 0;
  const t0 = Date.now();
  await Promise.all(
    shoppers.map(async (c, i) => {
      const s = process.hrtime.bigint();
      try {
        await app.services.flashSales.enter(app.orm.em.fork() as any, c, saleId, 1, `${tag}-${i}`);
      } catch {
        errors++;
      }
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }),
  );
  const seconds = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: shoppers.length / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), errors };
}

/**
 * Each shopper once, arriving at `perSecond` on a fixed schedule (open loop): a shopper's latency
 * counts from its scheduled arrival, so time spent waiting behind a slow server is counted too.
 */
async function arrivals(app: App, saleId: string, shoppers: string[], perSecond: number, tag: string) {
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < shoppers.length;) {
    const now = performance.now();
    for (; i < shoppers.length && t0 + (i * 1000) / perSecond <= now; i++) {
      const at = t0 + (i * 1000) / perSecond;
      const k = i;
      all.push(
        app.services.flashSales
          .enter(app.orm.em.fork() as any, shoppers[k], saleId, 1, `${tag}-${k}`)
          .catch(() => void errors++)
          .then(() => void lat.push(performance.now() - at)),
      );
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(all);
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: shoppers.length / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), errors };
}

/** Each shopper once, through `connections` clients (a client sends its next shopper when answered). */
async function bounded(app: App, saleId: string, shoppers: string[], connections: number, tag: string) {
  let next = 0;
  const r = await closedLoop(connections, 600_000, async () => {
    const k = next++;
    if (k >= shoppers.length) return false;
    await app.services.flashSales.enter(app.orm.em.fork() as any, shoppers[k], saleId, 1, `${tag}-${k}`);
    return next < shoppers.length;
  });
  return r;
}

const loadavg = () =>
  existsSync('/proc/loadavg')
    ? spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim()
    : 'unknown';

export async function flashSaleBench(serverUrl: string): Promise<void> {
  const loadBefore = loadavg();
  const url = await freshDatabase(serverUrl, 'bench_flashsale');
  const pool = new Pool({ connectionString: url, max: 5 });
  await pool.query(
    'create table bench_stock (id int primary key, stock bigint not null); insert into bench_stock values (1, 1000000000000)',
  );
  const variants = await seedVariants(pool);
  const rows: Measured[] = [];
  const baseline = pgbenchRow(url);
  if (!baseline) console.log('pgbench not found: the single-row baseline is skipped');
  else rows.push(baseline);
  const redis = await startRedis();
  let v = 0;
  const workerRows: string[] = [];
  try {
    for (const mode of ['redis', 'postgres'] as const) {
      const app = await bootApp(url, mode === 'redis' ? redis.url : null);
      try {
        const shoppers = await customers(pool, SHOPPERS);
        const label = mode === 'redis' ? 'Redis gate' : 'PostgreSQL only';
        const measure = (name: string, r: { rps: number; p50: number; p99: number; errors?: number }) =>
          rows.push({
            name: `${label}: ${name}`,
            ...r,
            errors: r.errors ?? 0,
            sqlPerRequest: '-',
            peakRssMb: '-',
          });

        // 1. The crowd on 100 units: every shopper once, all at once.
        const crowdSale = await sale(app, variants[v++], 100, 1);
        await app.services.flashSales.enter(app.orm.em.fork() as any, shoppers[0], crowdSale, 1, 'warm');
        measure(
          `${SHOPPERS.toLocaleString('en')} shoppers at once on 100 units (burst)`,
          await burst(app, crowdSale, shoppers, 'b'),
        );

        // 1b. 10,000 distinct shoppers arriving over the sale's first seconds, each on a new sale of
        // 100 units: at a fixed rate (open loop), and through a bounded number of connections.
        const rateSale = await sale(app, variants[v++], 100, 1);
        measure(
          `${SHOPPERS.toLocaleString('en')} shoppers arriving at ${ARRIVALS}/s on 100 units (open loop)`,
          await arrivals(app, rateSale, shoppers, ARRIVALS, 'r'),
        );
        const connSale = await sale(app, variants[v++], 100, 1);
        measure(
          `${SHOPPERS.toLocaleString('en')} shoppers through ${CONNECTIONS} connections on 100 units`,
          await bounded(app, connSale, shoppers, CONNECTIONS, 'n'),
        );

        // 2. The same crowd entering again and again (closed loop, 256 in flight): mostly refusals.
        let i = 0;
        measure(
          'crowd on 100 units, 256 in flight (closed loop)',
          await closedLoop(256, DURATION * 1000, async () => {
            const n = i++;
            await app.services.flashSales.enter(
              app.orm.em.fork() as any,
              shoppers[n % SHOPPERS],
              crowdSale,
              1,
              `c-${n}`,
            );
            return true;
          }),
        );

        // 3. Every decision an acceptance (a sale with room for all): the write path of the gate.
        const bigSale = await sale(app, variants[v++], 1_000_000, 1000);
        let j = 0;
        measure(
          'acceptances only, 256 in flight (closed loop)',
          await closedLoop(256, DURATION * 1000, async () => {
            const n = j++;
            await app.services.flashSales.enter(
              app.orm.em.fork() as any,
              shoppers[n % SHOPPERS],
              bigSale,
              1,
              `a-${n}`,
            );
            return true;
          }),
        );

        // 3b. The same with 1,024 in flight: group commit stores what arrives during a batch in the
        // next one, so acceptances grow with the shoppers in flight (PostgreSQL only: one row).
        const bigSale2 = await sale(app, variants[v++], 1_000_000, 1000);
        let k = 0;
        measure(
          'acceptances only, 1,024 in flight (closed loop)',
          await closedLoop(1024, DURATION * 1000, async () => {
            const n = k++;
            await app.services.flashSales.enter(
              app.orm.em.fork() as any,
              shoppers[n % SHOPPERS],
              bigSale2,
              1,
              `a2-${n}`,
            );
            return true;
          }),
        );

        // 4. The workers: 5,000 accepted entries turned into orders (persisted first with Redis).
        const orderSale = await sale(app, variants[v++], 5000, 1);
        await burst(app, orderSale, shoppers.slice(0, 5000), 'o');
        // Only this sale is open, so the worker's time goes to it alone.
        await pool.query('update flash_sale set closed_at = now() where id <> $1', [orderSale]);
        const worker = new FlashSaleWorker(
          () => app.orm.em.fork() as any,
          app.services.flashSales,
          app.services.checkout,
          app.services.orders,
          app.log,
        );
        const t0 = Date.now();
        worker.start();
        for (;;) {
          const r = await pool.query(
            `select count(*)::int as n from flash_sale_entry where flash_sale_id = $1 and status = 'ORDERED'`,
            [orderSale],
          );
          if (r.rows[0].n >= 5000) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        const seconds = (Date.now() - t0) / 1000;
        await worker.stop();
        workerRows.push(
          `| ${label} | 5,000 | ${seconds.toFixed(1)} | ${(5000 / seconds).toFixed(0)} | ${app.config.flashSale.batchSize} |`,
        );
      } finally {
        await app.stop();
      }
    }
  } finally {
    redis.child.kill('SIGKILL');
    await pool.end();
  }
  table(
    `Flash-sale entry decisions (${SHOPPERS.toLocaleString('en')} shoppers; ratio to pgbench's single-row update rate)`,
    rows,
    baseline ?? rows[0],
  );
  console.log('\nWorkers: orders created from accepted entries\n');
  console.log('| gate | entries | seconds | orders/s | batch size |');
  console.log('|---|---|---|---|---|');
  for (const r of workerRows) console.log(r);
  console.log(`\nload average (1, 5, 15 min) before the run: ${loadBefore}; after it: ${loadavg()}`);
}
