import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'pg';
import WebSocket from 'ws';
import { freePort } from '../src/db/embedded';
import { TokenService } from '../src/modules/identity/token';
import { Role } from '../src/modules/identity/user.entity';
import { freshDatabase } from './checkout';
import { percentile, ROOT, waitFor } from './lib';
import type { ProducerCommand, ProducerReport } from './subscriptions-producer';

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
 */

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 5000);
const RATE = Number(process.env.BENCH_EVENTS_PER_SEC ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
/** Connections being opened at once. */
const CONNECTING = 200;
/**
 * Producer transactions in flight at most (the producer's pool). Commits of transactions that
 * NOTIFY are serialized by PostgreSQL, so the producer needs many in flight to keep the rate.
 */
const PRODUCER_POOL = Number(process.env.BENCH_PRODUCERS ?? 50);
const JWT_SECRET = 'bench-subscriptions-jwt-secret-0123456789';
const ORDER_EVENTS =
  'subscription($o: ID!) { orderEvents(orderId: $o) { id orderId type status occurredAt } }';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds on CLOCK_MONOTONIC: the producer process reads the same clock. */
const now = () => Number(process.hrtime.bigint()) / 1e6;

// ---------------------------------------------------------------- processes and their memory

interface Inspected {
  proc: ChildProcess;
  inspector: string;
  stdout: string[];
}

/** A node child with the inspector on (for a real GC and memoryUsage() on demand); stderr is forwarded. */
function startInspected(script: string, env: Record<string, string>): Promise<Inspected> {
  const proc = spawn(process.execPath, ['--inspect=127.0.0.1:0', join(ROOT, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  proc.stdout!.on('data', (d) => stdout.push(...String(d).split('\n')));
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    proc.stderr!.on('data', (d) => {
      for (const line of String(d).split('\n')) {
        const m = /Debugger listening on (ws:\/\/\S+)/.exec(line);
        if (m) resolve({ proc, inspector: m[1], stdout });
        else if (line.trim() && !/^(Debugger|For help|Waiting for the debugger)/.test(line))
          process.stderr.write(`[${script}] ${line}\n`);
      }
    });
  });
}

interface GcReport {
  /** Pause of each full (mark-compact) collection, ms. */
  major: number[];
  minor: number;
  minorMs: number;
  minorMax: number;
}

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

/** A DevTools protocol session with a child (started with --inspect). */
class Inspector {
  private n = 0;
  private readonly pending = new Map<number, (m: any) => void>();
  private chunks?: string[];
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.method === 'HeapProfiler.addHeapSnapshotChunk') this.chunks?.push(m.params.chunk);
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    });
  }

  static async open(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Inspector(ws);
  }

  call(method: string, params: object = {}): Promise<any> {
    return new Promise((resolve) => {
      const id = ++this.n;
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Two full collections, then the child's process.memoryUsage(). */
  async memoryAfterGc(): Promise<Memory> {
    await this.call('HeapProfiler.collectGarbage');
    await sleep(200);
    await this.call('HeapProfiler.collectGarbage');
    const r = await this.call('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    return JSON.parse(r.result.result.value);
  }

  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
    if (r.result.exceptionDetails) throw new Error(JSON.stringify(r.result.exceptionDetails).slice(0, 300));
    return r.result.result.value as T;
  }

  /** Starts recording the child's garbage collections (their pauses, from perf_hooks). */
  async recordGc(): Promise<void> {
    await this.evaluate(`(() => {
      const { PerformanceObserver, constants } = process.mainModule.require('node:perf_hooks');
      globalThis.__benchGc = { major: [], minor: 0, minorMs: 0, minorMax: 0 };
      globalThis.__benchGcObserver = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          const kind = e.detail ? e.detail.kind : e.kind;
          if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) globalThis.__benchGc.major.push(e.duration);
          else { const g = globalThis.__benchGc; g.minor++; g.minorMs += e.duration; g.minorMax = Math.max(g.minorMax, e.duration); }
        }
      });
      globalThis.__benchGcObserver.observe({ entryTypes: ['gc'] });
      return true;
    })()`);
  }

  /** The garbage collections since recordGc(). */
  async gcReport(): Promise<GcReport> {
    return this.evaluate(
      `(() => { globalThis.__benchGcObserver.disconnect(); return globalThis.__benchGc; })()`,
    );
  }

  /** With BENCH_PROFILE_DIR: a CPU profile of the child during `fn`, written as <name>.cpuprofile. */
  async profile<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const dir = process.env.BENCH_PROFILE_DIR;
    if (!dir) return fn();
    await this.call('Profiler.enable');
    await this.call('Profiler.start');
    try {
      return await fn();
    } finally {
      const r = await this.call('Profiler.stop');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(r.result.profile));
    }
  }

  /** With BENCH_PROFILE_DIR and BENCH_HEAP_SNAPSHOTS=1: a heap snapshot of the child, as <name>.heapsnapshot. */
  async heapSnapshot(name: string): Promise<void> {
    const dir = process.env.BENCH_PROFILE_DIR;
    if (!dir || process.env.BENCH_HEAP_SNAPSHOTS !== '1') return;
    this.chunks = [];
    await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.heapsnapshot`), this.chunks.join(''));
    this.chunks = undefined;
  }

  close(): void {
    this.ws.close();
  }
}

/** CPU seconds (user + system) a process has used, from the kernel. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL process (the embedded server runs as this user). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (comm === 'postgres' || comm.startsWith('postgres')) total += cpuSeconds(Number(pid));
    } catch {
      /* gone */
    }
  }
  return total;
}

function openFilesLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

// ---------------------------------------------------------------- subscribers and measurement

interface Subscriber {
  orderId: string;
  received: { id: string; t: number }[];
  errors: string[];
  socket?: WebSocket;
}

interface Sent {
  sub: number;
  seq: number;
  /** Committed (baseline: sent). */
  t: number;
  /** The producer started the transaction (baseline: the send). */
  t0: number;
}

function onNext(sub: Subscriber, data: WebSocket.RawData, t: number, ack?: () => void): void {
  const m = JSON.parse(String(data));
  if (m.type === 'next') {
    if (m.payload?.errors?.length) sub.errors.push(JSON.stringify(m.payload.errors).slice(0, 300));
    else sub.received.push({ id: m.payload.data.orderEvents.id, t });
  } else if (m.type === 'connection_ack') ack?.();
  else if (m.type === 'ping') sub.socket!.send('{"type":"pong"}');
  else if (m.type === 'error' || m.type === 'complete')
    sub.errors.push(`${m.type}: ${JSON.stringify(m.payload ?? null).slice(0, 300)}`);
}

/** A graphql-ws client by hand: connection_init with the token, connection_ack, subscribe. */
function connectGraphqlWs(url: string, token: string, sub: Subscriber): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    sub.socket = s;
    let acked = false;
    s.on('open', () =>
      s.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
    );
    s.on('message', (d) =>
      onNext(sub, d, now(), () => {
        acked = true;
        s.send(
          JSON.stringify({
            id: '1',
            type: 'subscribe',
            payload: { query: ORDER_EVENTS, variables: { o: sub.orderId } },
          }),
        );
        resolve();
      }),
    );
    s.on('close', (code, reason) => {
      if (!acked) reject(new Error(`closed before connection_ack: ${code} ${reason}`));
      else if (code !== 1000) sub.errors.push(`closed ${code} ${reason}`);
    });
    s.on('error', (e) => (acked ? sub.errors.push(String(e)) : reject(e)));
  });
}

function connectBare(url: string, sub: Subscriber): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(`${url}/?order=${sub.orderId}`, { perMessageDeflate: false });
    sub.socket = s;
    s.on('open', () => resolve());
    s.on('message', (d) => onNext(sub, d, now()));
    s.on(
      'close',
      (code, reason) => code !== 1000 && code !== 1005 && sub.errors.push(`closed ${code} ${reason}`),
    );
    s.on('error', reject);
  });
}

/** Opens every subscriber, CONNECTING at a time; resolves with the seconds it took. */
async function connectAll(
  subs: Subscriber[],
  connect: (s: Subscriber, i: number) => Promise<void>,
): Promise<number> {
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTING }, async () => {
      while (next < subs.length) {
        const i = next++;
        await connect(subs[i], i);
      }
    }),
  );
  return (now() - t0) / 1000;
}

async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const received = (subs: Subscriber[]) => subs.reduce((n, s) => n + s.received.length, 0);

interface RunResult {
  name: string;
  produced: number;
  delivered: number;
  producedPerSec: number;
  deliveredPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  early: number;
  bad: string[];
  errors: number;
  commitP50?: number;
  commitP99?: number;
  memPerConn: { rssKb: number; heapKb: number };
  connectSeconds: number;
  serverCpuPerEventMs: number;
  serverCpuPercent: number;
  postgresCpuPercent: number;
  benchCpuPercent: number;
  producerCpuPercent: number;
  producerLoopDelayP99: number;
  clientLoopDelayP99: number;
  gc: GcReport;
  sqlPerEvent: number | string;
}

/** The producer process, driven over IPC. */
class Producer {
  readonly proc: ChildProcess;
  private readonly waiters: ((r: ProducerReport) => boolean)[] = [];
  /** Every event produced in the steady run: id → order index, seq, commit (or send) time. */
  readonly sent = new Map<string, Sent>();

  constructor() {
    this.proc = fork(join(ROOT, 'dist/bench/subscriptions-producer.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('error', (e) => console.log(`producer: ${e.message}`));
    this.proc.on('message', (r: ProducerReport) => {
      if (r.type === 'sent')
        for (const [id, sub, seq, t, t0] of r.events) this.sent.set(id, { sub, seq, t, t0 });
      const i = this.waiters.findIndex((w) => w(r));
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }

  /** Sends a command and waits for the report of `type`. */
  ask<T extends ProducerReport['type']>(
    c: ProducerCommand,
    type: T,
  ): Promise<Extract<ProducerReport, { type: T }>> {
    return new Promise((resolve, reject) => {
      const exited = (code: number) => reject(new Error(`the producer exited with ${code}`));
      this.proc.once('exit', exited);
      this.waiters.push((r) => {
        if (r.type !== type) return false;
        this.proc.off('exit', exited);
        resolve(r as Extract<ProducerReport, { type: T }>);
        return true;
      });
      if (!this.proc.connected) exited(this.proc.exitCode ?? -1);
      else this.proc.send(c);
    });
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    if (!this.proc.connected) {
      this.proc.kill();
      return;
    }
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.send({ cmd: 'close' } satisfies ProducerCommand);
    await Promise.race([exited, sleep(5000)]);
    this.proc.kill();
  }
}

/** One event per order, until every subscriber has its own: all are subscribed, and warm. */
async function warmUp(producer: Producer, subs: Subscriber[]): Promise<number> {
  const t0 = now();
  await producer.ask({ cmd: 'warmup' }, 'warmed');
  await waitUntil(
    () => subs.every((s) => s.received.length >= 1),
    60_000,
    'every subscriber to have its warm-up event',
  );
  for (const s of subs) s.received.length = 0;
  return (now() - t0) / 1000;
}

/** RATE events per second for SECONDS on the same pseudo-random orders, then until every event has arrived. */
async function steadyRun(producer: Producer, subs: Subscriber[]) {
  // How long the benchmark's event loop (the subscribers only) kept messages waiting.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = now();
  const done = await producer.ask({ cmd: 'steady', rate: RATE, seconds: SECONDS }, 'done');
  loop.disable();
  if (done.failures) console.log(`${done.failures} events failed to commit`);
  await waitUntil(
    () => received(subs) >= done.produced,
    60_000,
    `${done.produced} events at the clients (have ${received(subs)})`,
  ).catch((e) => console.log(String(e)));
  await sleep(500); // anything extra (a duplicate) would arrive now
  const lastReceive = Math.max(...subs.map((s) => s.received.at(-1)?.t ?? 0));
  return { ...done, start, lastReceive, clientLoopDelayP99: loop.percentile(99) / 1e6 };
}

/** Latencies, and every produced event delivered once, in order, to its order's subscriber only. */
function analyse(subs: Subscriber[], sent: Map<string, Sent>, fromSeq: number) {
  const latencies: number[] = [];
  const trace: string[] = [];
  const bad: string[] = [];
  let early = 0;
  const expected = new Map<number, number>();
  for (const s of sent.values()) expected.set(s.sub, (expected.get(s.sub) ?? 0) + 1);
  subs.forEach((sub, i) => {
    let last = fromSeq - 1;
    const live = sub.received;
    for (const r of live) {
      const s = sent.get(r.id);
      if (!s) {
        if (bad.length < 5) bad.push(`subscriber ${i}: unknown event ${r.id}`);
        continue;
      }
      if (s.sub !== i && bad.length < 5) bad.push(`subscriber ${i}: event ${r.id} of another order`);
      if (s.seq !== last + 1 && bad.length < 5) bad.push(`subscriber ${i}: seq ${s.seq} after ${last}`);
      last = s.seq;
      const l = r.t - s.t;
      if (l < 0) early++;
      latencies.push(Math.max(0, l));
      trace.push(`${s.t0.toFixed(3)},${s.t.toFixed(3)},${r.t.toFixed(3)}`);
    }
    if (live.length !== (expected.get(i) ?? 0) && bad.length < 5)
      bad.push(`subscriber ${i}: ${live.length} events, expected ${expected.get(i) ?? 0}`);
  });
  latencies.sort((a, b) => a - b);
  return { latencies, bad, early, trace };
}

// ---------------------------------------------------------------- the two runs

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

/** What both runs report from the steady phase. */
function summarize(
  name: string,
  subs: Subscriber[],
  producer: Producer,
  run: Awaited<ReturnType<typeof steadyRun>>,
  memory: { before: Memory; after: Memory },
  connectSeconds: number,
  cpu: { server: number; pg: number; bench: number; producer: number },
  gc: GcReport,
  sqlPerEvent: number,
): RunResult {
  const wall = (run.lastReceive - run.start) / 1000;
  const { latencies, bad, early, trace } = analyse(subs, producer.sent, 2);
  if (process.env.BENCH_PROFILE_DIR) {
    // Every event: started, committed (sent), received, in ms of the monotonic clock.
    const file = join(process.env.BENCH_PROFILE_DIR, `${sqlPerEvent ? 'server' : 'baseline'}-events.csv`);
    mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
    writeFileSync(file, `started,committed,received\n${trace.sort().join('\n')}\n`);
  }
  return {
    name,
    produced: run.produced,
    delivered: latencies.length,
    producedPerSec: run.produced / run.seconds,
    deliveredPerSec: latencies.length / wall,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    early,
    bad,
    errors: subs.reduce((n, s) => n + s.errors.length, 0),
    commitP50: sqlPerEvent ? run.commitP50 : undefined,
    commitP99: sqlPerEvent ? run.commitP99 : undefined,
    memPerConn: {
      rssKb: (memory.after.rss - memory.before.rss) / 1024 / subs.length,
      heapKb: (memory.after.heapUsed - memory.before.heapUsed) / 1024 / subs.length,
    },
    connectSeconds,
    serverCpuPerEventMs: (cpu.server * 1000) / run.produced,
    serverCpuPercent: (cpu.server / wall) * 100,
    postgresCpuPercent: (cpu.pg / wall) * 100,
    benchCpuPercent: (cpu.bench / wall) * 100,
    producerCpuPercent: (cpu.producer / wall) * 100,
    clientLoopDelayP99: run.clientLoopDelayP99,
    producerLoopDelayP99: run.loopDelayP99,
    gc,
    sqlPerEvent,
  };
}

const benchCpu = (since?: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

/**
 * The steady run, profiled, with its GC report and the CPU seconds it cost the server, PostgreSQL
 * (when the run uses it), this process and the producer.
 */
async function measuredRun(
  label: string,
  inspector: Inspector,
  server: Inspected,
  producer: Producer,
  subs: Subscriber[],
  withPostgres: boolean,
) {
  const pg = () => (withPostgres ? postgresCpuSeconds() : 0);
  const start = {
    server: cpuSeconds(server.proc.pid!),
    pg: pg(),
    bench: process.cpuUsage(),
    producer: cpuSeconds(producer.proc.pid!),
  };
  await inspector.recordGc();
  const run = await inspector.profile(label, () => steadyRun(producer, subs));
  const gc = await inspector.gcReport();
  const cpu = {
    server: cpuSeconds(server.proc.pid!) - start.server,
    pg: pg() - start.pg,
    bench: benchCpu(start.bench),
    producer: cpuSeconds(producer.proc.pid!) - start.producer,
  };
  return { run, gc, cpu };
}

async function oursRun(dbUrl: string, pool: Pool, seeded: Seeded): Promise<RunResult> {
  const tokens = new TokenService(JWT_SECRET, 24 * 3600);
  const buyerTokens = await Promise.all(
    seeded.orders.map((o) => tokens.sign({ userId: o.buyerId, roles: [Role.CUSTOMER], merchantId: null })),
  );
  const port = await freePort();
  const server = await startInspected('dist/src/main.js', {
    DATABASE_URL: dbUrl,
    PORT: String(port),
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'development',
    JWT_SECRET,
    ADMIN_PASSWORD: 'bench-admin-password',
    DB_POOL_SIZE: '20',
    // No card payments in this benchmark: no sandbox provider process beside the server.
    PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
    DATA_DIR: join(ROOT, '.data', 'bench'),
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
