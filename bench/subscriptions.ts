import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import { freePort } from '../src/db/embedded';
import { TokenService } from '../src/modules/identity/token';
import { Role } from '../src/modules/identity/user.entity';
import { freshDatabase } from './checkout';
import { BENCH_SERVER_ENV, waitFor } from './lib';
import {
  connectAll,
  connectBare,
  connectGraphqlWs,
  waitUntil,
  type Subscriber,
} from './subscriptions-clients';
import { Producer, warmUp } from './subscriptions-driver';
import { measuredRun, summarize, type RunResult } from './subscriptions-measure';
import { cpuSeconds, Inspector, openFilesLimit, startInspected } from './subscriptions-processes';
import { JWT_SECRET, PRODUCER_POOL, RATE, SECONDS, sleep, SUBSCRIBERS } from './subscriptions-settings';

/*
 * Live order tracking: SUBSCRIBERS graphql-ws connections, each following its own order with
 * `orderEvents(orderId)`, while a producer (a process of its own: subscriptions-producer.ts)
 * writes events at a steady rate on random orders through the real path (recordOrderEvent in a
 * transaction; the outbox relay; the in-process bus; the subscription's GraphQL execution).
 * Latency is from the moment the producer's COMMIT returned to the moment the client read the
 * message (process.hrtime in both processes: one monotonic clock). The baseline is a bare `ws`
 * server holding as many connections and forwarding the same payloads (the same graphql-ws
 * `next` JSON) to the one socket that owns the order, timed from the producer's send. Memory per
 * connection is the server process's growth (after a full GC, asked for over the inspector) from
 * before the clients connect to when all are subscribed and have had one event, divided by the
 * number of connections. Every event must arrive once, in order, at its own order's subscriber.
 *
 * Env: BENCH_SUBSCRIBERS (5000), BENCH_EVENTS_PER_SEC (500), BENCH_SECONDS (20),
 * BENCH_PRODUCERS (50 transactions in flight). BENCH_PROFILE_DIR: CPU profiles of both servers
 * while connecting and under the steady load, the times of every event (<run>-events.csv), the
 * server's log; with BENCH_HEAP_SNAPSHOTS=1 also heap snapshots of this server before and after
 * subscribing.
 *
 * The parts, by role: subscriptions-settings.ts (env and clock), subscriptions-processes.ts (servers
 * under the inspector, CPU and memory), subscriptions-clients.ts (the subscribers),
 * subscriptions-driver.ts (this side of subscriptions-producer.ts), subscriptions-measure.ts (the
 * steady run's figures and delivery checks); this file seeds, runs both servers and prints the table.
 */

interface Seeded {
  orders: { orderId: string; buyerId: string }[];
}

async function seedOrders(pool: Pool, n: number): Promise<Seeded> {
  const [{ id: merchant }] = (
    await pool.query(`insert into merchant (name) values ('Bench Shop') returning id`)
  ).rows;
  const users = (
    await pool.query(
      `insert into app_user (email, password_hash, name) select 'sub-bench-' || g || '@example.com', 'not-a-hash', 'Buyer ' || g from generate_series(1, $1) g returning id`,
      [n],
    )
  ).rows.map((r) => String(r.id));
  await pool.query(
    `insert into cart (id, customer_id, status) select 'sub-bench-' || u, u, 'CONVERTED' from unnest($1::bigint[]) u`,
    [users],
  );
  const address = JSON.stringify({
    name: 'Bench Buyer',
    line1: '1 Main St',
    city: 'Berlin',
    postalCode: '10115',
    country: 'DE',
  });
  // Ids in the shape next_order_id() makes (ms << 22 | shard << 12 | sequence), spread so none collide.
  const base = (BigInt(Date.now() - 1767225600000) << 22n).toString();
  await pool.query(
    `insert into checkout (id, buyer_id, cart_id, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address, payment_deadline)
     select $2::bigint + u * 2, u, 'sub-bench-' || u, 1999, 0, 0, 0, 0, 1999, $3::jsonb, now() + interval '1 day' from unnest($1::bigint[]) u`,
    [users, base, address],
  );
  // PAID, waiting to ship: nothing in the server's sweeps touches these orders during the run.
  const orders = (
    await pool.query(
      `insert into shop_order (id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address)
       select c.id + 1, c.id, c.buyer_id, $2, 'PAID', 1999, 0, 0, 0, 0, 1999, c.shipping_address from checkout c where c.buyer_id = any($1::bigint[])
       returning id::text, buyer_id::text`,
      [users, merchant],
    )
  ).rows;
  return { orders: orders.map((o) => ({ orderId: o.id, buyerId: o.buyer_id })) };
}

async function oursRun(dbUrl: string, pool: Pool, seeded: Seeded): Promise<RunResult> {
  const tokens = new TokenService(JWT_SECRET, 24 * 3600);
  const buyerTokens = await Promise.all(
    seeded.orders.map((o) => tokens.sign({ userId: o.buyerId, roles: [Role.CUSTOMER], merchantId: null })),
  );
  const port = await freePort();
  // The shared bench settings (all SUBSCRIBERS connect from one address) but no card payments in
  // this benchmark: no sandbox provider process beside the server.
  const { PAYMENT_PROVIDER: _sandbox, ...shared } = BENCH_SERVER_ENV;
  const server = await startInspected('dist/src/main.js', {
    ...shared,
    DATABASE_URL: dbUrl,
    PORT: String(port),
    JWT_SECRET,
    PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
  });
  const producer = new Producer();
  const subs: Subscriber[] = seeded.orders.map((o) => ({ orderId: o.orderId, received: [], errors: [] }));
  let inspector: Inspector | undefined;
  try {
    await producer.ask(
      { cmd: 'init', mode: 'ours', orders: subs.map((s) => s.orderId), pool: PRODUCER_POOL, dbUrl },
      'ready',
    );
    const httpUrl = `http://127.0.0.1:${port}/graphql`;
    await waitFor(httpUrl, JSON.stringify({ query: '{ __typename }' }));
    await sleep(2000); // the relay has taken its lock, workers have started
    inspector = await Inspector.open(server.inspector);
    await inspector.heapSnapshot('server-before');
    const before = await inspector.memoryAfterGc();

    const wsUrl = `ws://127.0.0.1:${port}/graphql`;
    const connectCpu = cpuSeconds(server.proc.pid!);
    const connectSeconds = await inspector.profile('server-connect', () =>
      connectAll(subs, (s, i) => connectGraphqlWs(wsUrl, buyerTokens[i], s)),
    );
    const perConnection = ((cpuSeconds(server.proc.pid!) - connectCpu) * 1000) / subs.length;
    console.log(
      `this server: ${subs.length} graphql-ws subscriptions in ${connectSeconds.toFixed(1)} s, server CPU ${perConnection.toFixed(2)} ms per connection`,
    );
    console.log(
      `this server: warm-up event on every order delivered in ${(await warmUp(producer, subs)).toFixed(1)} s`,
    );
    await sleep(1500);
    const after = await inspector.memoryAfterGc();
    await inspector.heapSnapshot('server-subscribed');

    const relayUpdates = async () =>
      Number(
        (await pool.query(`select n_tup_upd from pg_stat_user_tables where relname = 'outbox_relay'`)).rows[0]
          .n_tup_upd,
      );
    await sleep(2000);
    const relayBefore = await relayUpdates();
    const { run, gc, cpu } = await measuredRun('server-steady', inspector, server, producer, subs, true);
    await sleep(2500); // the relay's statistics reach pg_stat (it polls every second)
    const relayStatements = (await relayUpdates()) - relayBefore;
    // recordOrderEvent: update shop_order + insert order_event (plus BEGIN/COMMIT); the relay:
    // per pass, one numbering statement and one published_pos update (each updates outbox_relay once).
    return summarize(
      'this server: outbox relay + graphql-ws',
      subs,
      producer,
      run,
      { before, after },
      connectSeconds,
      cpu,
      gc,
      2 + relayStatements / run.produced,
    );
  } finally {
    const firstError = subs.find((s) => s.errors.length)?.errors[0];
    if (firstError) console.log(`first subscriber error: ${firstError}`);
    inspector?.close();
    for (const s of subs) s.socket?.terminate();
    await producer.close();
    server.proc.kill('SIGTERM');
    await new Promise((r) => server.proc.once('exit', r));
    // The server's log, for finding what it did when.
    if (process.env.BENCH_PROFILE_DIR)
      writeFileSync(join(process.env.BENCH_PROFILE_DIR, 'server-stdout.log'), server.stdout.join('\n'));
  }
}

async function baselineRun(seeded: Seeded): Promise<RunResult> {
  const server = await startInspected('dist/bench/subscriptions-baseline-server.js', {});
  const producer = new Producer();
  const subs: Subscriber[] = seeded.orders.map((o) => ({ orderId: o.orderId, received: [], errors: [] }));
  let inspector: Inspector | undefined;
  try {
    await waitUntil(
      () => server.stdout.some((l) => l.startsWith('listening')),
      10_000,
      'the baseline server',
    );
    const port = Number(server.stdout.find((l) => l.startsWith('listening'))!.split(' ')[1]);
    const url = `ws://127.0.0.1:${port}`;
    await sleep(500);
    inspector = await Inspector.open(server.inspector);
    const before = await inspector.memoryAfterGc();
    const connectCpu = cpuSeconds(server.proc.pid!);
    const connectSeconds = await inspector.profile('baseline-connect', () =>
      connectAll(subs, (s) => connectBare(url, s)),
    );
    const perConnection = ((cpuSeconds(server.proc.pid!) - connectCpu) * 1000) / subs.length;
    console.log(
      `bare ws: ${subs.length} connections in ${connectSeconds.toFixed(1)} s, server CPU ${perConnection.toFixed(2)} ms per connection`,
    );
    await producer.ask(
      {
        cmd: 'init',
        mode: 'bare',
        orders: subs.map((s) => s.orderId),
        pool: PRODUCER_POOL,
        controlUrl: `${url}/?control=1`,
      },
      'ready',
    );
    console.log(
      `bare ws: warm-up event on every connection delivered in ${(await warmUp(producer, subs)).toFixed(1)} s`,
    );
    await sleep(1500);
    const after = await inspector.memoryAfterGc();

    const { run, gc, cpu } = await measuredRun('baseline-steady', inspector, server, producer, subs, false);
    return summarize(
      'baseline: bare ws, forward to the owner socket',
      subs,
      producer,
      run,
      { before, after },
      connectSeconds,
      cpu,
      gc,
      0,
    );
  } finally {
    inspector?.close();
    await producer.close();
    for (const s of subs) s.socket?.terminate();
    server.proc.kill('SIGTERM');
    await new Promise((r) => server.proc.once('exit', r));
  }
}

/**
 * SUBSCRIBERS graphql-ws subscribers, one order each, RATE events/s for SECONDS: commit-to-client
 * latency, delivery (all, once, in order) and memory per connection, against a bare `ws` server.
 */
export async function subscriptionsBench(serverUrl: string): Promise<void> {
  const limit = openFilesLimit();
  if (limit < SUBSCRIBERS + 1000) {
    throw new Error(
      `open files limit ${limit} is too low for ${SUBSCRIBERS} connections (each side holds one socket each): raise it, e.g. \`ulimit -n ${SUBSCRIBERS * 2 + 1000}\``,
    );
  }
  const url = await freshDatabase(serverUrl, 'bench_subscriptions');
  const pool = new Pool({ connectionString: url, max: 2 });
  try {
    const seeded = await seedOrders(pool, SUBSCRIBERS);
    const baseline = await baselineRun(seeded);
    await sleep(1000);
    const ours = await oursRun(url, pool, seeded);
    const rows = [baseline, ours];

    const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-');
    console.log(
      `\nSubscriptions: ${SUBSCRIBERS} WebSocket subscribers, one order each; ${RATE} events/s for ${SECONDS} s on random orders\n`,
    );
    console.log(
      '| run | events/s delivered | p50 ms | p90 ms | p99 ms | max ms | p50 ratio | p99 ratio | RSS KB/conn | heap KB/conn | memory ratio | SQL/event | delivered/produced | errors |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${f(r.deliveredPerSec, 0)} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${f(r.max)} | ${f(r.p50 / baseline.p50, 2)} | ${f(r.p99 / baseline.p99, 2)} | ` +
          `${f(r.memPerConn.rssKb)} | ${f(r.memPerConn.heapKb)} | ${f(r.memPerConn.rssKb / baseline.memPerConn.rssKb, 2)} | ${typeof r.sqlPerEvent === 'number' ? f(r.sqlPerEvent, 2) : r.sqlPerEvent} | ${r.delivered}/${r.produced} | ${r.errors} |`,
      );
    }
    console.log('');
    for (const r of rows) {
      console.log(
        `${r.name}: connected in ${f(r.connectSeconds)} s; produced ${f(r.producedPerSec, 0)}/s; server CPU ${f(r.serverCpuPerEventMs, 2)} ms/event (${f(r.serverCpuPercent, 0)}% of a core)` +
          (r.postgresCpuPercent ? `, PostgreSQL ${f(r.postgresCpuPercent, 0)}%` : '') +
          `, subscribers' process ${f(r.benchCpuPercent, 0)}% (event-loop delay p99 ${f(r.clientLoopDelayP99)} ms), producer ${f(r.producerCpuPercent, 0)}% (event-loop delay p99 ${f(r.producerLoopDelayP99)} ms)` +
          `; server GC: ${r.gc.major.length} full collections (longest pause ${f(Math.max(0, ...r.gc.major))} ms, ${f(
            r.gc.major.reduce((a, b) => a + b, 0),
            0,
          )} ms in all), ${r.gc.minor} scavenges (longest ${f(r.gc.minorMax)} ms, ${f(r.gc.minorMs, 0)} ms in all)` +
          (r.commitP50 !== undefined
            ? `; producer transaction p50 ${f(r.commitP50)} ms, p99 ${f(r.commitP99!)} ms`
            : '') +
          (r.early
            ? `; ${r.early} events reached the client before the producer saw COMMIT return (counted as 0 ms)`
            : ''),
      );
      if (r.bad.length) console.log(`  DELIVERY PROBLEMS: ${r.bad.join('; ')}`);
    }
    console.log(
      'Latency: from the producer seeing COMMIT return (baseline: from its send) to the client reading the message. Memory: server growth after a full GC, ' +
        "from before connecting to all subscribed with one event delivered, per connection. SQL/event: the producer's 2 statements plus the relay's per event (subscribers run none).",
    );
  } finally {
    await pool.end();
  }
}
