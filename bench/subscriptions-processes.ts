import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ROOT } from './lib';
import { sleep } from './subscriptions-settings';

/**
 * The subscriptions benchmark's view of its processes: servers started with the inspector on (a real
 * GC, memory after GC, CPU profiles and heap snapshots on demand) and the CPU seconds each process
 * used, from the kernel.
 */

export interface Inspected {
  proc: ChildProcess;
  inspector: string;
  stdout: string[];
}

/** A node child with the inspector on (for a real GC and memoryUsage() on demand); stderr is forwarded. */
export function startInspected(script: string, env: Record<string, string>): Promise<Inspected> {
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

export interface GcReport {
  /** Pause of each full (mark-compact) collection, ms. */
  major: number[];
  minor: number;
  minorMs: number;
  minorMax: number;
}

export interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}

/** A DevTools protocol session with a child (started with --inspect). */
export class Inspector {
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
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of every PostgreSQL process (the embedded server runs as this user). */
export function postgresCpuSeconds(): number {
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

export function openFilesLimit(): number {
  const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}
