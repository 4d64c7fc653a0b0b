import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ROOT } from './lib';
import type { ProducerCommand, ProducerReport } from './subscriptions-producer';
import { received, waitUntil, type Sent, type Subscriber } from './subscriptions-clients';
import { now, RATE, SECONDS, sleep } from './subscriptions-settings';

/** The benchmark's side of the producer process (subscriptions-producer.ts): commands over IPC, and the two phases. */

/** The producer process, driven over IPC. */
export class Producer {
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
export async function warmUp(producer: Producer, subs: Subscriber[]): Promise<number> {
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
export async function steadyRun(producer: Producer, subs: Subscriber[]) {
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
