import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../src/db/embedded';
import { adminToken, createMerchant, createProduct } from '../factories/catalog';
import {
  createSale,
  mapLimit,
  range,
  saleInvariants,
  seedCustomers,
  sqlOf,
  until,
} from '../factories/flash-sale';
import { startTestApp, type TestApp } from '../support/app';

/*
 * Redis is killed in the middle of a sale and restarted empty: decisions go to PostgreSQL while it
 * is away, the sale's Redis copy is rebuilt from PostgreSQL when it is back, and the outcome is still
 * exact: as many orders as units, nobody over the limit, no entry persisted twice. What the old
 * Redis had accepted but not yet handed to PostgreSQL is the only thing that can be lost; the test
 * counts it and checks that a retry with the same key decides again.
 */

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  // Ready when it answers a PING.
  for (const deadline = Date.now() + 10_000; ;) {
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return child;
    } catch (err) {
      probe.disconnect();
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('flash sale: Redis killed mid-sale', () => {
  let t: TestApp;
  let redis: ChildProcess;
  let port: number;
  const { sql, one } = sqlOf(() => t);

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    t = await startTestApp({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      FLASH_SALE_WORKER_INTERVAL_MS: '20',
      DB_POOL_SIZE: '16',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    });
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    redis?.kill('SIGKILL');
  });

  test('killed and restarted empty while 6,000 shoppers enter: exact after reconciliation', async () => {
    const admin = await adminToken(t.gql);
    const merchant = await createMerchant(t.gql, admin);
    const {
      variantIds: [variantId],
    } = await createProduct(t.gql, merchant.token, { variants: [{ onHand: 100 }] });
    const sale = await createSale(t.gql, merchant.token, { variantId, quantity: 100, perCustomerLimit: 2 });
    const crowd = await seedCustomers(t, 2000);
    const service = t.app.services.flashSales;
    const em = () => t.app.orm.em.fork() as any;

    let done = 0;
    let killedAt = -1;
    const answers: { customerId: string; key: string; status?: string; id?: string; code?: string }[] = [];
    const crowdDone = mapLimit(range(6000), 100, async (i) => {
      const customerId = crowd[Math.floor(i / 3)];
      const key = `k-${i}`;
      try {
        const r = await service.enter(em(), customerId, sale.id, 1, key);
        answers.push({
          customerId,
          key,
          ...('status' in r ? { status: r.status, id: r.id } : { code: r.errorCode }),
        });
      } catch (err) {
        answers.push({ customerId, key, code: `thrown: ${(err as Error).message}` });
      }
      done++;
    });
    // Mid-sale: Redis dies (no persistence, as a crashed cache node), then comes back empty.
    await until(async () => done >= 1500, 60_000, '1,500 decisions');
    killedAt = done;
    const before = await one(`select count(*)::int as n from flash_sale_entry where flash_sale_id = ?`, [
      sale.id,
    ]);
    const acceptedBefore = answers.filter((a) => a.status === 'QUEUED').length;
    redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    redis = await startRedis(port);
    await crowdDone;
    expect(killedAt).toBeLessThan(6000);
    expect(answers.filter((a) => a.code?.startsWith('thrown'))).toEqual([]);

    // The workers serve the line: exactly 100 orders (one unit each), however the entries came in.
    await until(
      async () => {
        const r = await one(
          `select count(*)::int as n from flash_sale_entry where flash_sale_id = ? and status = 'ORDERED'`,
          [sale.id],
        );
        return r.n === 100;
      },
      30_000,
      '100 orders',
    );
    await new Promise((r) => setTimeout(r, 500)); // one more round: nothing further may happen
    const inv = await saleInvariants(sql, sale.id);
    expect(inv.liveOrders).toBe(100);
    expect(inv).toMatchObject({ held: 0, reserved: 100 });

    // Every accepted entry is in PostgreSQL except, at most, those the dead Redis had not handed
    // over yet; the rebuilt Redis copy counts exactly what PostgreSQL has.
    const stored = new Set(
      (await sql(`select id from flash_sale_entry where flash_sale_id = ?`, [sale.id])).map((e) => e.id),
    );
    const accepted = answers.filter((a) => a.status === 'QUEUED');
    const lost = accepted.filter((a) => !stored.has(a.id!));
    console.log(
      `Redis killed after ${killedAt} decisions (${acceptedBefore} accepted, ${before.n} persisted by then): ${accepted.length} accepted, ${stored.size} persisted, ${lost.length} lost with the dead Redis`,
    );
    // Decisions that fell back to PostgreSQL while Redis was away are counted in by the next
    // rebuild (a worker round after a fallback): the copy then equals PostgreSQL.
    const copy = new Redis(port, '127.0.0.1');
    const prefix = t.app.config.flashSale.redisPrefix;
    await until(
      async () => {
        const units = Number(await copy.hget(`${prefix}:{${sale.id}}:meta`, 'units'));
        const [pg] = await sql(
          `select coalesce(sum(quantity), 0)::int as n from flash_sale_entry where flash_sale_id = ?`,
          [sale.id],
        );
        return units === pg.n;
      },
      10_000,
      'the Redis copy equals PostgreSQL',
    );
    await copy.quit();

    // A lost entry's shopper retries with the same key: it is decided again (never twice persisted).
    for (const a of lost.slice(0, 3)) {
      const again = await service.enter(em(), a.customerId, sale.id, 1, a.key);
      expect(['QUEUED', 'ORDERED', 'OUT_OF_STOCK', 'FLASH_SALE_LIMIT_REACHED']).toContain(
        'status' in again ? again.status : again.errorCode,
      );
    }
    const [dups] = await sql(
      `select count(*)::int as n from (select customer_id, idempotency_key from flash_sale_entry where flash_sale_id = ? group by 1, 2 having count(*) > 1) d`,
      [sale.id],
    );
    expect(dups.n).toBe(0);
  }, 120_000);
});
