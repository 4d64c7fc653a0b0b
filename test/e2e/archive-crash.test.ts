import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { insertOldOrders, insertOwners } from '../../bench/archive-data';
import { createTestDatabase } from '../support/db';

/*
 * Hot and cold orders (issue 14): the archive job killed with SIGKILL in the middle of a batch
 * loses and duplicates nothing. The job runs as an operator runs it (`npm run archive`, the built
 * script) on 400 old orders, 50 per batch. The test holds a lock on one line of the newest order,
 * so the last batch stops inside its transaction, after it has locked its orders and while it is
 * deleting their rows; then the process is killed. Every earlier batch committed whole, the last
 * left no trace, and a second run finishes the work.
 */

const ROOT = resolve(__dirname, '../..');
const ORDERS = 400;
const BATCH = 50;
const CHILDREN = ['order_line', 'order_event', 'shipment', 'tracking_event'] as const;

let db: { url: string; drop(): Promise<void> };
let pg: Client;
let dataDir: string;
const q = async (text: string, params: unknown[] = []) => (await pg.query(text, params)).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  pg = new Client({ connectionString: db.url });
  await pg.connect();
  dataDir = mkdtempSync(join(tmpdir(), 'archive-crash-'));
  const owners = await insertOwners((s, p) => pg.query(s, p), 'crash');
  await insertOldOrders((s, p) => pg.query(s, p), { ...owners, count: ORDERS, ageSeconds: 3600 });
});
afterAll(async () => {
  await pg?.end();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const env = () => ({
  ...process.env,
  NODE_ENV: 'test',
  DATABASE_URL: db.url,
  DATA_DIR: dataDir,
  LOG_LEVEL: 'error',
  ARCHIVE_AFTER_SECONDS: '60',
  ARCHIVE_BATCH_SIZE: String(BATCH),
});

/** Rows per table, hot and archived, and every way an order could be in two places or none. */
async function census() {
  const [r] = await q(`select
      (select count(*) from shop_order)::int as hot_orders,
      (select count(*) from archive.shop_order)::int as archived_orders,
      (select count(*) from shop_order o join archive.shop_order a using (id))::int as in_both,
      ${CHILDREN.map(
        (t) => `(select count(*) from ${t})::int + (select count(*) from archive.${t})::int as ${t}`,
      ).join(',\n')},
      -- children on the other side from their order
      (select count(*) from order_line l where not exists (select 1 from shop_order o where o.id = l.order_id))::int
      + (select count(*) from archive.order_line l where not exists (select 1 from archive.shop_order o where o.id = l.order_id))::int
      + (select count(*) from order_event e where not exists (select 1 from shop_order o where o.id = e.order_id))::int
      + (select count(*) from archive.order_event e where not exists (select 1 from archive.shop_order o where o.id = e.order_id))::int
      + (select count(*) from archive.shipment s where not exists (select 1 from archive.shop_order o where o.id = s.order_id))::int
      + (select count(*) from archive.tracking_event t where not exists (select 1 from archive.shipment s where s.id = t.shipment_id))::int
        as strays`);
  return r;
}

test('SIGKILL in the middle of a batch: every order and row is in exactly one place; a rerun finishes', async () => {
  const start = await census();
  expect(start).toMatchObject({ hot_orders: ORDERS, archived_orders: 0, in_both: 0, strays: 0 });
  expect(start.tracking_event).toBe(ORDERS * 0.6);

  // The newest order is in the last batch (batches take the oldest first).
  const [newest] = await q(`select id from shop_order order by updated_at desc limit 1`);
  const blocker = new Client({ connectionString: db.url });
  await blocker.connect();
  await blocker.query('begin');
  await blocker.query('select 1 from order_line where order_id = $1 for update', [newest.id]);

  const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/archive-orders.js')], {
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));

  // Wait until the job's transaction waits for the held line, inside its batch.
  let backend: number | undefined;
  const deadline = Date.now() + 30_000;
  while (!backend) {
    if (Date.now() > deadline) throw new Error(`the job never blocked: ${output}`);
    const [w] = await q(
      `select pid from pg_stat_activity where wait_event_type = 'Lock' and query like 'with m_shop_order as%'`,
    );
    backend = w?.pid;
    if (!backend) await new Promise((r) => setTimeout(r, 50));
  }
  const midway = await census();
  expect(midway.archived_orders).toBe(ORDERS - BATCH); // every earlier batch committed whole

  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  // The batch's statement goes on once the line is free; its client is gone, so it never commits.
  await blocker.query('rollback');
  await blocker.end();
  for (let i = 0; (await q('select 1 from pg_stat_activity where pid = $1', [backend])).length; i++) {
    if (i > 600) throw new Error('the killed job’s backend is still there');
    await new Promise((r) => setTimeout(r, 50));
  }

  const after = await census();
  expect(after).toEqual({ ...start, hot_orders: BATCH, archived_orders: ORDERS - BATCH });

  // A second run moves the rest.
  const rerun = spawnSync(process.execPath, [join(ROOT, 'dist/scripts/archive-orders.js')], {
    env: env(),
    encoding: 'utf8',
  });
  expect(rerun.status).toBe(0);
  expect(JSON.parse(rerun.stdout.trim())).toMatchObject({
    orders: BATCH,
    batches: 1,
    hot: 0,
    archived: ORDERS,
  });
  expect(await census()).toEqual({ ...start, hot_orders: 0, archived_orders: ORDERS });
});
