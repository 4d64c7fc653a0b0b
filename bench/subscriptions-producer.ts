import 'reflect-metadata';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Pool, type PoolClient } from 'pg';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { recordOrderEvent } from '../src/modules/events/order-events';
import { OutboxSignal } from '../src/modules/events/outbox-signal';
import { OrderEventKind } from '../src/modules/order/order.types';

/**
 * The subscriptions benchmark's producer, in a process of its own so that its work does not delay
 * the subscribers' reads in the benchmark process. `ours`: each event is recordOrderEvent (the
 * product's function and statements) in a transaction, timed when COMMIT returns. It runs on a
 * bare `pg` client rather than MikroORM: the database sees the same statements, and the
 * producer's own overhead (about 1 ms of CPU per transaction through the ORM) does not delay its
 * reading of COMMIT replies, which would make latencies look shorter than they are. `bare`: each event is sent to the
 * bare `ws` baseline server's control socket, timed at the send. Times are process.hrtime
 * (CLOCK_MONOTONIC, the same clock in every process) in milliseconds.
 *
 * Driven over IPC: init, warmup (one event per order), steady (rate, seconds), close. Reports
 * `sent` batches of [eventId, orderIndex, seq, time] and `done`.
 */

export type ProducerCommand =
  | {
      cmd: 'init';
      mode: 'ours' | 'bare';
      orders: string[];
      pool: number;
      dbUrl?: string;
      controlUrl?: string;
    }
  | { cmd: 'warmup' }
  | { cmd: 'steady'; rate: number; seconds: number }
  | { cmd: 'close' };

export type ProducerReport =
  | { type: 'ready' }
  | { type: 'warmed' }
  | { type: 'sent'; events: [string, number, number, number, number][] }
  | {
      type: 'done';
      produced: number;
      failures: number;
      seconds: number;
      commitP50: number;
      commitP99: number;
      loopDelayP99: number;
    };

const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const send = (r: ProducerReport) => process.send!(r);

/** The same pseudo-random order picks in both runs. */
function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let orders: string[] = [];
let pool = 1;
let db: Pool | undefined;
let control: WebSocket | undefined;
/** Produces one event on order `i`: its id, its number in the order, and when it was committed (sent). */
let produceOne: (i: number) => Promise<[string, number, number]>;

/**
 * The part of an EntityManager that sqlAll uses, over one `pg` client inside its transaction
 * (knex-style `?` bindings become `$n`).
 */
function onClient(client: PoolClient): EntityManager {
  const connection = {
    execute: async (sql: string, bindings: unknown[]) => {
      let n = 0;
      return (
        await client.query(
          sql.replace(/\?/g, () => `$${++n}`),
          bindings,
        )
      ).rows;
    },
  };
  return { getTransactionContext: () => client, getConnection: () => connection } as unknown as EntityManager;
}

async function init(c: Extract<ProducerCommand, { cmd: 'init' }>): Promise<void> {
  orders = c.orders;
  pool = c.pool;
  if (c.mode === 'ours') {
    const p = new Pool({ connectionString: c.dbUrl, max: c.pool + 1 });
    db = p;
    const signal = new OutboxSignal(() => p.query('notify order_event'));
    produceOne = async (i) => {
      const client = await p.connect();
      try {
        await client.query('begin');
        const row = await recordOrderEvent(onClient(client), {
          orderId: orders[i],
          type: OrderEventKind.SHIPMENT_UPDATED,
        });
        await client.query('commit');
        const committedAt = now();
        signal.ping(); // as the server's writers do after a commit that wrote events
        return [String(row.id), Number(row.seq), committedAt];
      } catch (e) {
        await client.query('rollback').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    };
  } else {
    const ws = new WebSocket(c.controlUrl!, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    control = ws;
    let id = 0;
    const seqs = new Map<number, number>();
    produceOne = async (i) => {
      const seq = (seqs.get(i) ?? 0) + 1;
      seqs.set(i, seq);
      const event = {
        id: `${++id}`,
        orderId: orders[i],
        type: 'SHIPMENT_UPDATED',
        status: 'PAID',
        occurredAt: new Date().toISOString(),
      };
      const t = now();
      ws.send(JSON.stringify({ orderId: orders[i], event }));
      return [event.id, seq, t];
    };
  }
}

async function warmup(): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: pool }, async () => {
      while (next < orders.length) await produceOne(next++);
    }),
  );
}

/** `rate` events a second on random orders, each started on time whatever the ones in flight do. */
async function steady(rate: number, seconds: number): Promise<void> {
  const random = mulberry32(42);
  const total = rate * seconds;
  const inflight = new Set<Promise<void>>();
  const commits: number[] = [];
  let batch: [string, number, number, number, number][] = [];
  let failures = 0;
  const flush = setInterval(() => {
    if (batch.length) send({ type: 'sent', events: batch });
    batch = [];
  }, 20);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = now();
  let k = 0;
  while (k < total) {
    const t = now();
    while (k < total && start + (k * 1000) / rate <= t) {
      const i = Math.floor(random() * orders.length);
      k++;
      const t0 = now();
      const p: Promise<void> = produceOne(i)
        .then(([id, seq, t1]) => {
          batch.push([id, i, seq, t1, t0]);
          commits.push(t1 - t0);
        })
        .catch((e) => {
          if (failures++ === 0) console.log(`first producer error: ${String(e).slice(0, 300)}`);
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  const elapsed = (now() - start) / 1000;
  clearInterval(flush);
  if (batch.length) send({ type: 'sent', events: batch });
  commits.sort((a, b) => a - b);
  const pct = (p: number) =>
    commits[Math.min(commits.length - 1, Math.floor((commits.length * p) / 100))] ?? NaN;
  send({
    type: 'done',
    produced: total - failures,
    failures,
    seconds: elapsed,
    commitP50: pct(50),
    commitP99: pct(99),
    loopDelayP99: loop.percentile(99) / 1e6,
  });
}

// Never outlive the benchmark that started this process.
process.on('disconnect', () => process.exit(0));
process.on('message', (c: ProducerCommand) => {
  void (async () => {
    if (c.cmd === 'init') {
      await init(c);
      send({ type: 'ready' });
    } else if (c.cmd === 'warmup') {
      await warmup();
      send({ type: 'warmed' });
    } else if (c.cmd === 'steady') {
      await steady(c.rate, c.seconds);
    } else {
      control?.close();
      await db?.end();
      process.exit(0);
    }
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
});
