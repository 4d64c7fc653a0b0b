import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TokenService } from '../../src/modules/identity/token';
import { Role } from '../../src/modules/identity/user.entity';
import { ADMIN } from '../support/app';
import { client } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer, type ServerProcess } from '../support/server-process';
import { adminToken, createMerchant, createProduct } from '../factories/catalog';
import { createSale, ENTER, mapLimit, saleInvariants, until } from '../factories/flash-sale';

/*
 * A flash-sale worker killed with SIGKILL in the middle of a batch: the built server as child
 * processes on one database and Redis, one serving the API (no worker), one running the worker
 * over a backlog of accepted entries. After the kill nothing is half-done (each batch committed
 * whole or not at all); a second worker finishes the line; no entry is lost or ordered twice.
 */

afterAll(() => cleanupServers());

const JWT_SECRET = 'flash-crash-jwt-secret-0123456789abcdef';

/** Whether a transaction holds the sale's batch lock (the worker's advisory lock; pg-boss has others). */
const SALE_LOCK = `select count(*)::int as n from pg_locks where locktype = 'advisory' and granted and objsubid = 1
   and ((classid::bigint << 32) | objid::bigint) = hashtextextended('flash_sale:' || ?, 0)`;

test('a worker killed mid-batch loses no entry and doubles no order', async () => {
  const db = await createTestDatabase();
  const env = {
    DATABASE_URL: db.url,
    PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET,
    PAYMENT_WEBHOOK_SECRET: 'flash-crash-payment-secret-0123',
    LOGISTICS_WEBHOOK_SECRET: 'flash-crash-logistics-secret-01',
    REDIS_URL: process.env.TEST_REDIS_URL!,
    FLASH_SALE_REDIS_PREFIX: `crash${randomBytes(4).toString('hex')}`,
    FLASH_SALE_BATCH_SIZE: '25',
    FLASH_SALE_WORKER_INTERVAL_MS: '20',
  };
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  // The shared helpers use `?` placeholders (as knex does).
  const sql = async (q: string, params: unknown[] = []) => {
    let n = 0;
    return (
      await pg.query(
        q.replace(/\?/g, () => `$${++n}`),
        params,
      )
    ).rows;
  };
  const api = await startServer({ env: { ...env, FLASH_SALE_WORKER: 'false' } });
  let worker: ServerProcess | undefined;
  try {
    const gql = client(api.url);
    const admin = await adminToken(gql);
    const merchant = await createMerchant(gql, admin);
    const {
      variantIds: [variantId],
    } = await createProduct(gql, merchant.token, { variants: [{ onHand: 600 }] });
    const sale = await createSale(gql, merchant.token, { variantId, quantity: 600 });

    // 800 shoppers get in line (the line takes 1,200 units) while no worker runs.
    const { rows: customers } = await pg.query(
      `insert into app_user (email, password_hash, name) select 'crash-' || g || '@test.local', 'x', 'C' || g
         from generate_series(1, 800) g returning id`,
    );
    const tokens = new TokenService(JWT_SECRET, 3600);
    const answers = await mapLimit(customers, 32, async (c: { id: string }, i) => {
      const token = await tokens.sign({ userId: String(c.id), roles: [Role.CUSTOMER], merchantId: null });
      return (await gql(ENTER, { s: sale.id, q: 1, k: `k-${i}` }, token)).data.flashSaleEnter;
    });
    expect(answers.every((a) => a.status === 'QUEUED')).toBe(true);
    const accepted = new Set(answers.map((a) => a.id as string));

    const count = async (status: string) =>
      (
        await sql(`select count(*)::int as n from flash_sale_entry where flash_sale_id = ? and status = ?`, [
          sale.id,
          status,
        ])
      )[0].n as number;
    // A worker starts on the backlog and is killed while it holds a sale's batch lock (inside a
    // batch transaction), some orders made and most not.
    worker = await startServer({ env: { ...env, FLASH_SALE_WORKER: 'true' } });
    let inBatch = false;
    await until(
      async () => {
        const ordered = await count('ORDERED');
        const [lock] = await sql(SALE_LOCK, [sale.id]);
        inBatch = lock.n > 0;
        return ordered > 0 && ordered < 500 && inBatch;
      },
      60_000,
      'the worker in a batch',
    );
    await worker.stop('SIGKILL');
    worker = undefined;
    // PostgreSQL rolls the cut-off transaction back as soon as it sees the connection gone.
    await until(
      async () => {
        const [lock] = await sql(SALE_LOCK, [sale.id]);
        return lock.n === 0;
      },
      20_000,
      'the killed transaction rolled back',
    );
    const midway = await count('ORDERED');
    const inv = await saleInvariants(sql, sale.id);
    expect(inv.liveOrders).toBe(midway); // every ORDERED entry has its order, and no order is without one
    expect(inv.held + inv.liveUnits).toBe(600);

    // Another worker finishes the line: 600 orders, every accepted entry persisted once.
    worker = await startServer({ env: { ...env, FLASH_SALE_WORKER: 'true' } });
    await until(async () => (await count('ORDERED')) === 600, 60_000, '600 orders');
    const stored = await sql(`select id, status from flash_sale_entry where flash_sale_id = ?`, [sale.id]);
    expect(new Set(stored.map((e) => e.id))).toEqual(accepted);
    expect(stored.filter((e) => e.status === 'QUEUED')).toHaveLength(200);
    const end = await saleInvariants(sql, sale.id);
    expect(end).toMatchObject({ liveOrders: 600, liveUnits: 600, held: 0, reserved: 600 });
    console.log(`worker killed with ${midway} of 600 orders made (inside a batch: ${inBatch})`);
  } finally {
    await worker?.stop('SIGTERM');
    await api.stop('SIGTERM');
    await pg.end();
    await db.drop();
  }
}, 180_000);
