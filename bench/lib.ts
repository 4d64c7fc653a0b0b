import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../src/db/embedded';

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
  /** CPU per request by process (cpuPerRequest); a column of its own when a row has it. */
  cpuMs?: string;
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

/**
 * What every benchmarked server shares, so a figure measures the server and not a limit meant for
 * real shoppers: the sandbox card provider (a DATABASE_URL server has to name one), checkout caps
 * raised (one bench customer places thousands of checkouts), per-IP and per-user rate limits and the
 * sign-in guards and the WebSocket connections per IP raised (all load comes from one address, 127.0.0.1), SQL counts in the answers, no
 * demo catalog, and the bench's data folder. A bench passes only what differs (pool size, fee, log
 * level, …); its values win.
 */
export const BENCH_SERVER_ENV: Readonly<Record<string, string>> = {
  PAYMENT_PROVIDER: 'sandbox',
  CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
  CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
  RATE_LIMIT_IP_PER_MINUTE: '10000000',
  RATE_LIMIT_USER_PER_MINUTE: '10000000',
  PASSWORD_HASH_QUEUE: '10000',
  SIGNIN_CONCURRENT_PER_IP: '10000',
  SIGNIN_MAX_FAILURES: '1000',
  WS_MAX_CONNECTIONS_PER_IP: '1000000',
  DEMO_DATA: 'false',
  EXPOSE_SQL_STATS: 'true',
  LOG_LEVEL: 'warn',
  NODE_ENV: 'development',
  ADMIN_PASSWORD: 'bench-admin-password',
  DB_POOL_SIZE: '20',
  PAYMENT_WINDOW_SECONDS: '3600',
  DATA_DIR: join(ROOT, '.data', 'bench'),
};

export interface BenchServer {
  child: ChildProcess;
  port: number;
  /** The GraphQL endpoint, http://127.0.0.1:<port>/graphql. */
  gqlUrl: string;
}

/**
 * Starts a server (the application as `npm start` runs it unless `script` names another entry, a
 * path relative to ROOT) on a free port with BENCH_SERVER_ENV plus `env`, and resolves once it
 * answers `readyBody` (default `{ __typename }`). `env` must name DATABASE_URL. Extra ports a script
 * needs (LEGACY_PORT) are the caller's.
 */
export async function startBenchServer(
  env: Record<string, string> & { DATABASE_URL: string },
  options: { script?: string; readyBody?: string; readyTimeoutMs?: number } = {},
): Promise<BenchServer> {
  const port = await freePort();
  const child = startChild(options.script ?? 'dist/src/main.js', {
    ...BENCH_SERVER_ENV,
    ...env,
    PORT: String(port),
  });
  const gqlUrl = `http://127.0.0.1:${port}/graphql`;
  try {
    await waitFor(
      gqlUrl,
      options.readyBody ?? JSON.stringify({ query: '{ __typename }' }),
      options.readyTimeoutMs,
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, port, gqlUrl };
}

/** Stops a bench server and waits until it has exited. */
export async function stopBenchServer(server: BenchServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  await exited;
}

/** A database of its own named `name` on the server of `url` (created when missing); its URL. */
export async function ensureDatabase(url: string, name: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const exists = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (!exists.rowCount) await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Peak resident memory of a process, from the kernel. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by each PostgreSQL process on the machine, by pid. */
function postgresCpu(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres')
        byPid.set(Number(pid), cpuSeconds(Number(pid)));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** CPU seconds PostgreSQL used since `before`: what live processes added, and all of the new ones. */
function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of postgresCpu()) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/**
 * Where a run's CPU went: call before the run, then call the returned function with the number
 * of requests done; it answers milliseconds of CPU per request of PostgreSQL, of the server
 * process `serverPid` (when given) and of this benchmark process (the clients), e.g.
 * "pg 11.2 + server 13.7 + client 5.7". A backend that exits during the run (an idle pool's
 * connection closing) loses what it used in the run, which is next to nothing when it was idle.
 */
export function cpuPerRequest(serverPid?: number): (requests: number) => string {
  const pg0 = postgresCpu();
  const server0 = serverPid ? cpuSeconds(serverPid) : 0;
  const client0 = process.cpuUsage();
  return (requests) => {
    const ms = (seconds: number) => ((seconds * 1000) / Math.max(1, requests)).toFixed(1);
    const client = process.cpuUsage(client0);
    const parts = [`pg ${ms(postgresCpuSince(pg0))}`];
    if (serverPid) parts.push(`server ${ms(cpuSeconds(serverPid) - server0)}`);
    parts.push(`client ${ms((client.user + client.system) / 1e6)}`);
    return parts.join(' + ');
  };
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
        // A request that needs no I/O (an in-process call answered from memory) would otherwise
        // chain the next one as a microtask, and the loop would keep the event loop from sockets and
        // timers for its whole duration: a connection opened meanwhile then "times out". Requests
        // of real clients arrive through I/O; one turn of the event loop each models that.
        await new Promise((r) => setImmediate(r));
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
  const cpu = rows.some((r) => r.cpuMs);
  console.log(
    `| run | req/s | ratio to baseline | p50 ms | p99 ms | SQL/request | peak RSS MB | errors |${cpu ? ' CPU ms/request |' : ''}`,
  );
  console.log(`|---|---|---|---|---|---|---|---|${cpu ? '---|' : ''}`);
  const f = (n: number | string, d = 1) => (typeof n === 'number' ? n.toFixed(d) : n);
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / baseline.rps).toFixed(2)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.sqlPerRequest)} | ${f(r.peakRssMb, 0)} | ${r.errors} |${cpu ? ` ${r.cpuMs ?? '-'} |` : ''}`,
    );
  }
}
