import { Client } from 'pg';
import { Redis } from 'ioredis';
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
import { startRedisServer, type RedisServer } from '../support/pg-server';
import type { EnterOutcome } from '../../src/modules/flashsale/flashsale.service';

/*
 * The Redis that decides entries is this file's own redis-server, stopped (SIGKILL, no
 * persistence: as a crashed cache node) and started again empty. PostgreSQL is the truth:
 * - a shopper is told QUEUED only for an entry PostgreSQL has, so Redis dying with accepted entries
 *   loses none (their shoppers are decided again, by PostgreSQL while Redis is away);
 * - the Redis copy of a sale is rebuilt from PostgreSQL after a restart and then equals it, also
 *   when a decision PostgreSQL took while Redis was away commits after the rebuild.
 */

const kind = (r: EnterOutcome) => ('status' in r ? r.status : r.errorCode);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('flash sale: Redis lost', () => {
  let t: TestApp;
  let redis: RedisServer;
  let pg: Client;
  let probe: Redis;
  const { sql, one } = sqlOf(() => t);
  const service = () => t.app.services.flashSales;
  const em = () => t.app.orm.em.fork() as any;
  let merchant: { token: string };

  beforeAll(async () => {
    redis = await startRedisServer();
    t = await startTestApp({
      REDIS_URL: redis.url,
      FLASH_SALE_WORKER_INTERVAL_MS: '20',
      FLASH_SALE_ACCEPT_WAIT_MS: '500',
      FLASH_SALE_PAYMENT_WINDOW_SECONDS: '600',
      DB_POOL_SIZE: '16',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    });
    pg = new Client({ connectionString: t.app.config.databaseUrl });
    await pg.connect();
    probe = new Redis(redis.url, { maxRetriesPerRequest: null });
    probe.on('error', () => undefined);
    merchant = await createMerchant(t.gql, await adminToken(t.gql));
  }, 60_000);
  afterAll(async () => {
    probe?.disconnect();
    await pg?.end();
    await t?.stop();
    await redis?.stop();
  });

  const newSale = async (quantity: number, perCustomerLimit = 1) => {
    const {
      variantIds: [variantId],
    } = await createProduct(t.gql, merchant.token, { variants: [{ onHand: quantity }] });
    return createSale(t.gql, merchant.token, { variantId, quantity, perCustomerLimit });
  };
  const key = (saleId: string, part: string) => `${t.app.config.flashSale.redisPrefix}:{${saleId}}:${part}`;
  /** Units the Redis copy counts, and units PostgreSQL has (null: no copy). */
  const counts = async (saleId: string) => {
    const units = await probe.hget(key(saleId, 'meta'), 'units');
    const pgUnits = await one(
      `select coalesce(sum(quantity), 0)::int as n from flash_sale_entry where flash_sale_id = ?`,
      [saleId],
    );
    return { redis: units === null ? null : Number(units), pg: pgUnits.n as number };
  };
  let last: unknown;
  // Generous: the copy follows PostgreSQL through a persisting transaction, whose commit waits for
  // the WAL on a loaded machine (seen stuck in WalSync for seconds); the poll ends as soon as it matches.
  const copyEqualsPg = (saleId: string, ms = 30_000) =>
    until(
      async () => {
        const c = await counts(saleId);
        if (c.redis !== c.pg) last = c;
        return c.redis === c.pg;
      },
      ms,
      'the Redis copy equals PostgreSQL',
    ).catch(async (err) => {
      const act = await sql(
        `select pid, state, wait_event_type, wait_event, left(query, 120) as q, now() - xact_start as age from pg_stat_activity where datname = current_database() and state <> 'idle'`,
      );
      console.log(
        JSON.stringify(act, null, 1),
        'gate',
        t.app.flashSales.gate!.connected,
        'rebuildAll',
        service().rebuildAll,
        'waiters',
        service().waiters.size,
      );
      throw new Error(`${(err as Error).message}: ${JSON.stringify(last)}`);
    });
  const redisAway = () => until(async () => !t.app.flashSales.gate!.connected, 15_000, 'Redis seen gone');
  const redisBack = () => until(async () => t.app.flashSales.gate!.connected, 15_000, 'Redis seen back');

  test('a decision PostgreSQL took while Redis was away, committed after the rebuild, is counted in', async () => {
    const sale = await newSale(10);
    const [first, late] = await seedCustomers(t, 2);
    expect(kind(await service().enter(em(), first, sale.id, 1, 'a'))).toBe('QUEUED');

    await redis.stop();
    await redisAway();
    // The decision without Redis waits on the sale row (held here) until Redis is back and the copy
    // has been rebuilt without it.
    await pg.query('begin');
    await pg.query('select 1 from flash_sale where id = $1 for update', [sale.id]);
    const decided = service().enter(em(), late, sale.id, 1, 'b');
    const [{ pid }] = (await pg.query('select pg_backend_pid() as pid')).rows;
    await until(
      async () =>
        (
          await pg.query(
            `select 1 from pg_stat_activity where wait_event_type = 'Lock' and $1 = any(pg_blocking_pids(pid))`,
            [pid],
          )
        ).rowCount,
      30_000,
      'the decision waiting on the sale row',
    );
    await redis.start();
    await redisBack();
    await until(async () => (await counts(sale.id)).redis === 1, 30_000, 'the copy rebuilt');
    await pg.query('commit');
    expect(kind(await decided)).toBe('QUEUED');

    // The copy converges on PostgreSQL: the late decision is counted, also against the limit.
    await copyEqualsPg(sale.id);
    expect(await counts(sale.id)).toEqual({ redis: 2, pg: 2 });
    expect(kind(await service().enter(em(), late, sale.id, 1, 'c'))).toBe('FLASH_SALE_LIMIT_REACHED');
  });

  test('after Redis restarted empty, the worker moving the head does not leave a hash that passes for a copy', async () => {
    const sale = await newSale(10);
    const [first, second] = await seedCustomers(t, 2);
    expect(kind(await service().enter(em(), first, sale.id, 1, 'a'))).toBe('QUEUED');
    // Redis restarted empty without the connection noticing; the worker then serves a batch and
    // sets the new head, or finds the sale sold out (what failed the 3,000-shopper run below once: the
    // copy stayed a hash with a head alone, and no rebuild would replace it).
    await probe.flushall();
    const gate = t.app.flashSales.gate!;
    await gate.setHead(sale.id, 1);
    await gate.setSoldOut(sale.id);
    expect(await gate.hasCopy(sale.id)).toBe(false);
    expect(kind(await service().enter(em(), second, sale.id, 1, 'b'))).toBe('QUEUED');
    await copyEqualsPg(sale.id, 10_000);
    expect(await counts(sale.id)).toEqual({ redis: 2, pg: 2 });
  });

  test('a forced rebuild asked while an unforced one runs rebuilds the copy all the same', async () => {
    const sale = await newSale(10);
    const [customer] = await seedCustomers(t, 1);
    expect(kind(await service().enter(em(), customer, sale.id, 1, 'a'))).toBe('QUEUED');
    const epoch = () => probe.hget(key(sale.id, 'meta'), 'epoch');
    const before = await epoch();
    // The unforced one keeps the copy it finds; the forced one (Redis back after being away) must
    // not be satisfied by it.
    await Promise.all([service().reconcile(em(), sale.id, false), service().reconcile(em(), sale.id, true)]);
    expect(await epoch()).not.toBe(before);
    await copyEqualsPg(sale.id, 10_000);
  });

  test('a shopper is told QUEUED only once PostgreSQL has the entry; Redis dying first loses nobody', async () => {
    const sale = await newSale(50);
    const crowd = await seedCustomers(t, 20);
    // Nothing may reach PostgreSQL from the line for now: the line and batch locks are held here.
    await pg.query('begin');
    await pg.query(
      `select pg_advisory_xact_lock(hashtextextended('flash_sale_line:' || $1, 0)),
              pg_advisory_xact_lock(hashtextextended('flash_sale:' || $1, 0))`,
      [sale.id],
    );
    const answers: { customerId: string; r: EnterOutcome }[] = [];
    const entering = crowd.map((c, i) =>
      service()
        .enter(em(), c, sale.id, 1, `d-${i}`)
        .then((r) => answers.push({ customerId: c, r })),
    );
    await until(async () => (await probe.xlen(key(sale.id, 'line'))) === 20, 30_000, 'Redis accepted all');
    await sleep(300);
    expect(answers).toHaveLength(0); // accepted by Redis, but not durable yet: nobody is told so

    await redis.stop(); // the line dies with the 20 entries in it
    await pg.query('commit');
    await Promise.all(entering);
    // Each is in line, or already ordered when the worker (every 20 ms) was quicker than the answer.
    expect(answers.filter((a) => !['QUEUED', 'ORDERED'].includes(kind(a.r)))).toEqual([]);
    expect(answers).toHaveLength(20);
    const stored = await sql(`select id, customer_id from flash_sale_entry where flash_sale_id = ?`, [
      sale.id,
    ]);
    expect(new Set(stored.map((e) => e.id))).toEqual(new Set(answers.map((a) => (a.r as { id: string }).id)));

    await redis.start();
    await redisBack();
    await copyEqualsPg(sale.id);
    expect((await counts(sale.id)).redis).toBe(20);
  });

  test('killed and restarted empty while 3,000 shoppers enter: nothing told QUEUED is lost, 100 orders', async () => {
    const sale = await newSale(100, 2);
    const crowd = await seedCustomers(t, 1000);
    const answers: { customerId: string; key: string; kind: string; id?: string }[] = [];
    let queued = 0;
    const crowdDone = mapLimit(range(3000), 50, async (i) => {
      const customerId = crowd[Math.floor(i / 3)];
      const k = `k-${i}`;
      try {
        const r = await service().enter(em(), customerId, sale.id, 1, k);
        if (kind(r) === 'QUEUED') queued++;
        answers.push({ customerId, key: k, kind: kind(r), id: 'id' in r ? r.id : undefined });
      } catch (err) {
        answers.push({ customerId, key: k, kind: `thrown: ${(err as Error).message}` });
      }
    });
    // Mid-sale, while the line fills (it takes 200): Redis dies, then comes back empty.
    await until(async () => queued >= 40, 60_000, '40 in line');
    const acceptedBefore = queued;
    await redis.stop();
    await sleep(300);
    await redis.start();
    await crowdDone;
    expect(acceptedBefore).toBeLessThan(200);
    expect(answers.filter((a) => a.kind.startsWith('thrown'))).toEqual([]);

    // Every shopper told QUEUED has the entry in PostgreSQL; the line filled exactly.
    const stored = await sql(`select id from flash_sale_entry where flash_sale_id = ?`, [sale.id]);
    const storedIds = new Set(stored.map((e) => e.id));
    const told = answers.filter((a) => a.kind === 'QUEUED');
    expect(told.filter((a) => !storedIds.has(a.id!))).toEqual([]);
    expect(storedIds.size).toBe(200);
    expect(told).toHaveLength(200);

    await until(
      async () =>
        (
          await one(
            `select count(*)::int as n from flash_sale_entry where flash_sale_id = ? and status = 'ORDERED'`,
            [sale.id],
          )
        ).n === 100,
      30_000,
      '100 orders',
    );
    const inv = await saleInvariants(sql, sale.id);
    expect(inv.liveOrders).toBe(100);
    expect(inv).toMatchObject({ held: 0, reserved: 100 });
    await copyEqualsPg(sale.id);
    const [dups] = await sql(
      `select count(*)::int as n from (select customer_id, idempotency_key from flash_sale_entry where flash_sale_id = ? group by 1, 2 having count(*) > 1) d`,
      [sale.id],
    );
    expect(dups.n).toBe(0);
    console.log(`Redis killed with ${acceptedBefore} of 200 in line; every QUEUED answer is in PostgreSQL`);
  }, 300_000);
});
