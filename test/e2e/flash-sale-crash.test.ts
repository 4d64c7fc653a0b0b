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
 * Servers killed with SIGKILL in the middle of their work, with Redis deciding entries and
 * without it (the embedded default: PostgreSQL decides). The built server as child processes on
 * one database: one serving the API (no worker), one running the worker over a backlog of
 * accepted entries.
 *
 * 1. The API server is killed while a crowd enters: the shoppers cut off retry with the same key
 *    on a new server; every entry is stored once, whoever accepted it and whenever.
 * 2. The worker is killed inside a batch transaction: nothing is half-done (each batch committed
 *    whole or not at all); a second worker finishes the line; no entry is lost or ordered twice.
 */

afterAll(() => cleanupServers());

const JWT_SECRET = 'flash-crash-jwt-secret-0123456789abcdef';

/** Whether a transaction holds the sale's batch lock (the worker's advisory lock; pg-boss has others). */
const SALE_LOCK = `select count(*)::int as n from pg_locks where locktype = 'advisory' and granted and objsubid = 1
   and ((classid::bigint << 32) | objid::bigint) = hashtextextended('flash_sale:' || ?, 0)`;

/*
 * Without Redis every acceptance is a transaction on the sale's row (bound by one row's update
 * rate), so that mode runs a smaller sale: the same steps, in a few seconds.
 */
describe.each([
  { mode: 'with Redis', redis: true, units: 300, batch: 20 },
  { mode: 'without Redis (PostgreSQL decides)', redis: false, units: 150, batch: 10 },
])('flash sale $mode', ({ redis, units, batch }) => {
  test('servers killed mid-crowd and mid-batch lose no entry and double no order', async () => {
    const db = await createTestDatabase();
    const env: Record<string, string> = {
      DATABASE_URL: db.url,
      PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      JWT_SECRET,
      PAYMENT_WEBHOOK_SECRET: 'flash-crash-payment-secret-0123',
      LOGISTICS_WEBHOOK_SECRET: 'flash-crash-logistics-secret-01',
      FLASH_SALE_BATCH_SIZE: String(batch),
      FLASH_SALE_WORKER_INTERVAL_MS: '20',
      ...(redis
        ? {
            REDIS_URL: process.env.TEST_REDIS_URL!,
            FLASH_SALE_REDIS_PREFIX: `crash${randomBytes(4).toString('hex')}`,
          }
        : {}),
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
    const t0 = Date.now();
    const phases: string[] = [];
    const phase = (name: string) => phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    let api = await startServer({ env: { ...env, FLASH_SALE_WORKER: 'false' } });
    let worker: ServerProcess | undefined;
    try {
      const admin = await adminToken(client(api.url));
      const merchant = await createMerchant(client(api.url), admin);
      const {
        variantIds: [variantId],
      } = await createProduct(client(api.url), merchant.token, { variants: [{ onHand: units }] });
      const sale = await createSale(client(api.url), merchant.token, { variantId, quantity: units });

      // 4/3 × units shoppers get in line (the line takes twice the units) while no worker runs.
      const shoppers = (units * 4) / 3;
      const { rows: customers } = await pg.query(
        `insert into app_user (email, password_hash, name) select 'crash-' || g || '@test.local', 'x', 'C' || g
           from generate_series(1, $1::int) g returning id`,
        [shoppers],
      );
      const tokens = new TokenService(JWT_SECRET, 3600);
      const tokenOf = (c: { id: string }) =>
        tokens.sign({ userId: String(c.id), roles: [Role.CUSTOMER], merchantId: null });
      const enter = async (url: string, c: { id: string }, i: number) =>
        (await client(url)(ENTER, { s: sale.id, q: 1, k: `k-${i}` }, await tokenOf(c))).data
          ?.flashSaleEnter as { id: string; status: string } | undefined;

      // 1. The API server dies while the crowd enters: some shoppers were answered, some cut off.
      let answered = 0;
      const first = await mapLimit(customers, 32, async (c: { id: string }, i) => {
        if (i === Math.floor(shoppers / 3))
          await until(async () => answered >= shoppers / 4, 30_000, 'answers');
        if (i === Math.floor(shoppers / 3)) await api.stop('SIGKILL');
        try {
          const a = await enter(api.url, c, i);
          answered++;
          return a;
        } catch {
          return undefined; // cut off: the shopper retries below
        }
      });
      phase('crowd cut off');
      const told = first.filter((a): a is { id: string; status: string } => !!a);
      expect(told.length).toBeGreaterThan(0);
      expect(told.length).toBeLessThan(shoppers);
      expect(told.every((a) => a.status === 'QUEUED')).toBe(true);
      // Told QUEUED means stored, even though the server died right after.
      const storedEarly = await sql(`select id from flash_sale_entry where id = any(?::text[])`, [
        told.map((a) => a.id),
      ]);
      expect(storedEarly).toHaveLength(told.length);

      // Every shopper (answered or not) sends again with the same key, to a new server.
      api = await startServer({ env: { ...env, FLASH_SALE_WORKER: 'false' } });
      const answers = await mapLimit(customers, 32, (c: { id: string }, i) => enter(api.url, c, i));
      expect(answers.every((a) => a?.status === 'QUEUED')).toBe(true);
      for (const [i, a] of first.entries()) if (a) expect(answers[i]!.id).toBe(a.id);
      const accepted = new Set(answers.map((a) => a!.id));
      phase('crowd retried');
      expect(accepted.size).toBe(shoppers);

      const count = async (status: string) =>
        (
          await sql(
            `select count(*)::int as n from flash_sale_entry where flash_sale_id = ? and status = ?`,
            [sale.id, status],
          )
        )[0].n as number;
      // 2. A worker starts on the backlog and is killed while it holds a sale's batch lock (inside a
      // batch transaction), some orders made and most not.
      worker = await startServer({ env: { ...env, FLASH_SALE_WORKER: 'true' } });
      let inBatch = false;
      await until(
        async () => {
          const ordered = await count('ORDERED');
          const [lock] = await sql(SALE_LOCK, [sale.id]);
          inBatch = lock.n > 0;
          return ordered > 0 && ordered < units / 2 && inBatch;
        },
        60_000,
        'the worker in a batch',
      );
      await worker.stop('SIGKILL');
      worker = undefined;
      phase('worker killed');
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
      expect(inv.held + inv.liveUnits).toBe(units);

      // Another worker finishes the line: every unit ordered, every accepted entry stored once.
      worker = await startServer({ env: { ...env, FLASH_SALE_WORKER: 'true' } });
      await until(async () => (await count('ORDERED')) === units, 60_000, `${units} orders`);
      phase('line served');
      const stored = await sql(`select id, status from flash_sale_entry where flash_sale_id = ?`, [sale.id]);
      expect(stored).toHaveLength(shoppers);
      expect(new Set(stored.map((e) => e.id))).toEqual(accepted);
      expect(stored.filter((e) => e.status === 'QUEUED')).toHaveLength(shoppers - units);
      const end = await saleInvariants(sql, sale.id);
      expect(end).toMatchObject({ liveOrders: units, liveUnits: units, held: 0, reserved: units });
      console.log(
        `${redis ? 'Redis' : 'PostgreSQL'}: API killed after ${told.length} of ${shoppers} answers; ` +
          `worker killed with ${midway} of ${units} orders made (inside a batch: ${inBatch}); ${phases.join(', ')}`,
      );
    } finally {
      await worker?.stop('SIGTERM');
      await api.stop('SIGTERM');
      await pg.end();
      await db.drop();
    }
  }, 300_000);
});
