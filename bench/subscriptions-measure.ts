import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from './lib';
import type { Sent, Subscriber } from './subscriptions-clients';
import { steadyRun, type Producer } from './subscriptions-driver';
import {
  cpuSeconds,
  postgresCpuSeconds,
  type GcReport,
  type Inspected,
  type Inspector,
  type Memory,
} from './subscriptions-processes';

/** What a run of the subscriptions benchmark measures: the steady phase's costs, latencies and delivery checks. */

export interface RunResult {
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

/** Latencies, and every produced event delivered once, in order, to its order's subscriber only. */
export function analyse(subs: Subscriber[], sent: Map<string, Sent>, fromSeq: number) {
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

/** What both runs report from the steady phase. */
export function summarize(
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

export const benchCpu = (since?: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

/**
 * The steady run, profiled, with its GC report and the CPU seconds it cost the server, PostgreSQL
 * (when the run uses it), this process and the producer.
 */
export async function measuredRun(
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
