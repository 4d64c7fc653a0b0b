import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Shared pieces of the benchmarks: child servers, load loops, percentiles and the result table. */
export const ROOT = join(__dirname, '..', '..');

export interface Measured {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  sqlPerRequest: number | string;
  peakRssMb: number | string;
}

export function startChild(script: string, env: Record<string, string>): ChildProcess {
  // BENCH_PROFILE_DIR: CPU profiles of the servers under load, for finding where the time goes.
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
    : [];
  const child = spawn(process.execPath, [...profile, join(ROOT, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (d) => process.stderr.write(`[${script}] ${d}`));
  return child;
}

export async function post(url: string, body: string, token?: string): Promise<any> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return r.json();
}

export async function waitFor(url: string, body: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up`);
}

/** Peak resident memory of a process, from the kernel. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

/**
 * Runs `concurrency` loops calling `task` until `durationMs` passes or a task returns false
 * (work ran out); returns throughput and latency percentiles in milliseconds.
 */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  task: () => Promise<boolean>,
): Promise<{ rps: number; p50: number; p99: number; errors: number; count: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const started = Date.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t0 = process.hrtime.bigint();
        let more = true;
        try {
          more = await task();
        } catch (e) {
          if (errors++ === 0) console.log(`first error: ${String(e).slice(0, 300)}`);
        }
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (!more) return;
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    count: latencies.length,
  };
}

export function table(title: string, rows: Measured[], baseline: Measured) {
  console.log(`\n${title}\n`);
  console.log('| run | req/s | ratio to baseline | p50 ms | p99 ms | SQL/request | peak RSS MB | errors |');
  console.log('|---|---|---|---|---|---|---|---|');
  const f = (n: number | string, d = 1) => (typeof n === 'number' ? n.toFixed(d) : n);
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / baseline.rps).toFixed(2)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.sqlPerRequest)} | ${f(r.peakRssMb, 0)} | ${r.errors} |`,
    );
  }
}
