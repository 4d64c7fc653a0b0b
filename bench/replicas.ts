import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../src/db/embedded';
import { connectOrm } from '../src/db/orm';
import { ReadRouter } from '../src/db/read-routing';
import { MemoryWriteLsnStore, RedisWriteLsnStore } from '../src/db/write-lsn-store';
import { entities } from '../src/modules/entities';
import { createLogger } from '../src/server/protection/log';
import type { Principal } from '../src/shared/auth';
import { startPgServer, startRedisServer, startReplica } from '../test/support/pg-server';
import { peakRssMb, post, ROOT, startChild, table, waitFor, type Measured } from './lib';
import { SEARCH_BODIES } from './search-queries';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');

const PRODUCTS = Number(process.env.BENCH_REPLICA_PRODUCTS ?? 20_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const BUYERS = 20;
const ORDERS_PER_BUYER = 5;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Transactions committed in `db` so far (every autocommit statement is one): where the reads went. */
async function xacts(url: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(
      'select xact_commit::bigint as n from pg_stat_database where datname = current_database()',
    );
    return Number(r.rows[0].n);
  } finally {
    await c.end();
  }
}

interface Target {
  url: string;
  pid: number;
}

/** `bodies` in turn, each request with the next of `tokens` (if any), for DURATION seconds. */
async function load(name: string, t: Target, bodies: string[], tokens: string[] = [], duration = DURATION) {
  let i = 0;
  const result = await autocannon({
    url: t.url,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'POST',
        setupRequest: (req: Record<string, unknown>) => {
          const n = i++;
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (tokens.length) headers.authorization = `Bearer ${tokens[n % tokens.length]}`;
          return { ...req, headers, body: bodies[n % bodies.length] };
        },
      },
    ],
  });
  const sample = await post(t.url, bodies[0], tokens[0]);
  const m: Measured = {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    sqlPerRequest: sample.extensions?.sqlStatements ?? '–',
    peakRssMb: peakRssMb(t.pid),
  };
  return m;
}

async function seed(url: string): Promise<void> {
  console.log(`seeding ${PRODUCTS} products into the primary...`);
  await new Promise<void>((resolve, reject) => {
    const s = spawn(process.execPath, [join(ROOT, 'dist/scripts/seed.js'), '--products', String(PRODUCTS)], {
      env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    s.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed exited ${code}`))));
  });
}

/** Signs buyers up and has each place a few orders, so that order lists have rows. */
async function buyersWithOrders(url: string, db: Client): Promise<string[]> {
  const variants = (
    await db.query<{ id: string }>(
      `select id::text from variant where on_hand - reserved - sold > 100 order by id limit 200`,
    )
  ).rows.map((r) => r.id);
  const tokens: string[] = [];
  for (let b = 0; b < BUYERS; b++) {
    const email = `bench-buyer-${Date.now()}-${b}@bench.local`;
    const su = await post(
      url,
      JSON.stringify({
        query: `mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token } } }`,
        variables: { i: { email, password: 'password-123', name: 'Bench buyer' } },
      }),
    );
    const token: string = su.data.signUp.token;
    tokens.push(token);
    for (let o = 0; o < ORDERS_PER_BUYER; o++) {
      const variantId = variants[(b * ORDERS_PER_BUYER + o) % variants.length];
      const cart = await post(
        url,
        JSON.stringify({
          query: `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { ... on Cart { id } } }`,
          variables: { l: [{ variantId, quantity: 1 }] },
        }),
      );
      const r = await post(
        url,
        JSON.stringify({
          query: `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { __typename } }`,
          variables: {
            i: {
              cartId: cart.data.cartCreate.id,
              idempotencyKey: `bench-${b}-${o}-${Date.now()}`,
              shippingAddress: {
                name: 'B',
                line1: '1 Main St',
                city: 'Berlin',
                postalCode: '10115',
                country: 'DE',
              },
            },
          },
        }),
        token,
      );
      if (r.data?.checkoutCreate?.__typename !== 'Checkout')
        throw new Error(`checkout: ${JSON.stringify(r)}`);
    }
  }
  return tokens;
}

/** Microseconds per routing decision (`forRead` around an empty read), over `n` calls. */
async function perCheck(router: ReadRouter, principal: Principal | null, n = 20_000): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await router.forRead('orders.list', principal, async () => 0);
  return Number(process.hrtime.bigint() - started) / 1e3 / n;
}

/**
 * Read throughput with one streaming replica vs the primary alone (search, order lists), and the
 * cost of the read-your-writes check. PostgreSQL 15 primary and replica of their own (the server
 * binaries of PG_BIN), a redis-server of its own; everything on this machine.
 */
export async function replicasBench(): Promise<void> {
  const settings = { max_connections: 200, shared_buffers: '128MB' };
  const primary = await startPgServer({ settings });
  const replica = await startReplica(primary, { settings });
  const redis = await startRedisServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-replicas-'));
  const children: ChildProcess[] = [];
  try {
    const url = await primary.createDatabase('bench');
    await seed(url);
    const replicaUrl = replica.url('bench');
    const env = (port: number, replicas: boolean) => ({
      DATABASE_URL: url,
      PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
      ...(replicas ? { DATABASE_REPLICA_URLS: replicaUrl, REPLICA_MAX_LAG_MS: '2000' } : {}),
      REDIS_URL: redis.url,
      PORT: String(port),
      DEMO_DATA: 'false',
      EXPOSE_SQL_STATS: 'true',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      SEARCH_CACHE_TTL_MS: '0', // every search reaches the database
      RATE_LIMIT_IP_PER_MINUTE: '10000000',
      RATE_LIMIT_USER_PER_MINUTE: '10000000',
    });
    const [p1, p2] = [await freePort(), await freePort()];
    const alone = startChild('dist/src/main.js', env(p1, false));
    children.push(alone);
    const aloneUrl = `http://127.0.0.1:${p1}/graphql`;
    await waitFor(aloneUrl, SEARCH_BODIES[0], 120_000);
    const split = startChild('dist/src/main.js', env(p2, true));
    children.push(split);
    const splitUrl = `http://127.0.0.1:${p2}/graphql`;
    await waitFor(splitUrl, SEARCH_BODIES[0], 120_000);
    const A: Target = { url: aloneUrl, pid: alone.pid! };
    const S: Target = { url: splitUrl, pid: split.pid! };

    const db = new Client({ connectionString: url });
    await db.connect();
    const tokens = await buyersWithOrders(splitUrl, db);
    await db.end();
    // The buyers' write records expire (REPLICA_MAX_LAG_MS 2 s + probe margin): plain readers from now on.
    await sleep(4_000);

    const ORDERS = JSON.stringify({
      query: `{ orders(first: 20) { totalCount edges { node { id status total { amount } } } } }`,
    });
    const share = async (fn: () => Promise<Measured>) => {
      const [p0, r0] = [await xacts(url), await xacts(replicaUrl)];
      const m = await fn();
      const [p, r] = [(await xacts(url)) - p0, (await xacts(replicaUrl)) - r0];
      m.name += ` (replica served ${Math.round((100 * r) / Math.max(1, p + r))}% of transactions)`;
      return m;
    };
    await load('warmup', A, SEARCH_BODIES, [], 3);
    await load('warmup', S, SEARCH_BODIES, [], 3);
    const searchAlone = await share(() => load('search, primary only', A, SEARCH_BODIES));
    const searchSplit = await share(() => load('search, one replica', S, SEARCH_BODIES));
    const ordersAlone = await share(() => load('order lists, primary only', A, [ORDERS], tokens));
    const ordersSplit = await share(() => load('order lists, one replica', S, [ORDERS], tokens));
    table(
      `Reads with one streaming replica (PostgreSQL 15, same machine): search (${PRODUCTS} products, cache off) and order lists (${BUYERS} buyers × ${ORDERS_PER_BUYER} orders), ${CONNECTIONS} connections, ${DURATION} s per run`,
      [searchAlone, searchSplit],
      searchAlone,
    );
    table('Order lists', [ordersAlone, ordersSplit], ordersAlone);

    // The read-your-writes check on its own, in this process: no request, just the routing decision.
    const log = createLogger('silent');
    const orm = await connectOrm({ url, entities, replicaUrls: [replicaUrl], poolSize: 2 });
    const opts = { maxLagMs: 2000, waitMs: 50, probeMs: 500, memoryClients: 100_000 };
    const memory = new ReadRouter(opts, log);
    const shared = new ReadRouter(opts, log);
    const writer: Principal = { userId: '1', roles: [], merchantId: null };
    const reader: Principal = { userId: '2', roles: [], merchantId: null };
    try {
      await memory.start(orm, undefined, new MemoryWriteLsnStore(10_000, 100_000));
      const redisStore = new RedisWriteLsnStore(redis.url, 10_000, log, 'bench:ryw:');
      await redisStore.start();
      await shared.start(orm, undefined, redisStore);
      await sleep(1_500); // a probe history: the replica is usable
      await memory.recordWrite(writer);
      await shared.recordWrite(writer);
      await sleep(200); // the replica has replayed the writes
      await perCheck(shared, reader, 2_000); // warm-up (connections, JIT)
      const rows = [
        ['anonymous (no lookup)', await perCheck(memory, null)],
        ['signed in, memory store, no recent write', await perCheck(memory, reader)],
        ['signed in, memory store, recent write (replica caught up)', await perCheck(memory, writer)],
        ['signed in, Redis store, no recent write', await perCheck(shared, reader, 5_000)],
        ['signed in, Redis store, recent write (replica caught up)', await perCheck(shared, writer, 5_000)],
      ] as const;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 200; i++) await shared.recordWrite(writer);
      const recordUs = Number(process.hrtime.bigint() - t0) / 1e3 / 200;
      console.log('\nRead-your-writes: cost of the routing decision per request\n');
      console.log('| case | µs per request |');
      console.log('|---|---|');
      for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(1)} |`);
      console.log(
        `| recording a write (after a mutation: primary WAL position + Redis script) | ${recordUs.toFixed(0)} |`,
      );
    } finally {
      await memory.stop();
      await shared.stop();
      await orm.close();
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(1000);
    await redis.stop();
    await replica.destroy();
    await primary.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
