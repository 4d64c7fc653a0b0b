import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/db/embedded';

/**
 * The built server (`node dist/src/main.js`) as a child process, as an operator runs it: its own
 * environment, a free port, output captured for assertions, stopped with a real signal.
 */

const ROOT = resolve(__dirname, '../..');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the signal sent by stop() (or from the start, when it exited on its own) to the exit. */
  durationMs: number;
}

export interface ServerProcess {
  pid: number;
  port: number;
  /** http://127.0.0.1:<port> */
  origin: string;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** ws://127.0.0.1:<port>/graphql */
  wsUrl: string;
  dataDir: string;
  env: Record<string, string>;
  /** From spawn to the first 200 of GET /healthz. */
  startupMs: number;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr, interleaved as they arrived. */
  output(): string;
  /** The pino JSON lines of the output (other lines are skipped). */
  logs(): { level: number; msg: string; [k: string]: unknown }[];
  /** Resolves when the process has exited, however it ended. */
  exited: Promise<ExitInfo>;
  running(): boolean;
  /**
   * Sends `signal` (to the whole process group with `group`, as Ctrl-C in a terminal does: needs
   * `processGroup`), waits for the exit; SIGKILL after `timeoutMs` (the result then says so).
   */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
    opts?: { group?: boolean },
  ): Promise<ExitInfo & { killed: boolean }>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  /** Defaults to a fresh temp directory (removed by cleanupServers()). */
  dataDir?: string;
  readyTimeoutMs?: number;
  /** Its own process group (with the embedded PostgreSQL it spawns), like a command started in a terminal. */
  processGroup?: boolean;
  /** Defaults to a free port; a restart passes the previous one (callbacks and pages keep their URLs). */
  port?: number;
  /** The project folder to run `dist/src/main.js` from (a copy of the project); this checkout by default. */
  root?: string;
}

interface Tracked {
  child: ChildProcess;
  dataDir: string;
  group: boolean;
}

/** Every test client is 127.0.0.1: the tests of the limits themselves set low ones. */
const TEST_LIMITS = {
  RATE_LIMIT_IP_PER_MINUTE: '1000000',
  RATE_LIMIT_USER_PER_MINUTE: '1000000',
  SIGNIN_MAX_FAILURES: '1000',
  PASSWORD_HASH_QUEUE: '10000',
  SIGNIN_CONCURRENT_PER_IP: '10000',
};

const children = new Set<Tracked>();
const tempDirs = new Set<string>();

/** A fresh temp directory, world-readable so the embedded PostgreSQL (as `postgres` when we are root) can use it. */
export function makeDataDir(prefix = 'commerce-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  tempDirs.add(dir);
  return dir;
}

/**
 * Only what a shell would pass plus `env`: jest's NODE_ENV=test, TEST_PG_* or a developer's
 * DATABASE_URL must not leak into the server.
 */
function childEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

function spawnServer(env: Record<string, string>, dataDir: string, group = false, root = ROOT) {
  const main = join(root, 'dist/src/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
  const started = Date.now();
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  });
  const tracked: Tracked = { child, dataDir, group };
  children.add(tracked);
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out.push(s), all.push(s)));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err.push(s), all.push(s)));
  let signalledAt: number | undefined;
  // 'close' (not 'exit'): all output has been read by then.
  const exited = new Promise<ExitInfo>((resolveExit) => {
    child.once('close', (code, signal) => {
      children.delete(tracked);
      resolveExit({ code, signal, durationMs: Date.now() - (signalledAt ?? started) });
    });
  });
  return {
    child,
    started,
    exited,
    markSignalled: () => (signalledAt = Date.now()),
    stdout: () => out.join(''),
    stderr: () => err.join(''),
    output: () => all.join(''),
  };
}

/** Starts the server and waits until GET /healthz answers 200. */
export async function startServer(opts: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? makeDataDir();
  const port = opts.port ?? (await freePort());
  const env = childEnv({
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...TEST_LIMITS,
    ...opts.env,
  });
  const p = spawnServer(env, dataDir, opts.processGroup, opts.root);
  const origin = `http://127.0.0.1:${port}`;
  const timeoutMs = opts.readyTimeoutMs ?? 90_000;
  let exitedEarly: ExitInfo | undefined;
  void p.exited.then((e) => (exitedEarly = e));

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitedEarly) {
      throw new Error(
        `server exited before it was healthy (code ${exitedEarly.code}, signal ${exitedEarly.signal}):\n${p.output()}`,
      );
    }
    try {
      const res = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      p.child.kill('SIGKILL');
      await p.exited;
      throw new Error(`server not healthy within ${timeoutMs} ms:\n${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const startupMs = Date.now() - p.started;

  return {
    pid: p.child.pid!,
    port,
    origin,
    url: `${origin}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    dataDir,
    env,
    startupMs,
    stdout: p.stdout,
    stderr: p.stderr,
    output: p.output,
    logs: () =>
      p
        .output()
        .split('\n')
        .flatMap((line) => {
          try {
            const j = JSON.parse(line);
            return j && typeof j === 'object' && 'msg' in j ? [j] : [];
          } catch {
            return [];
          }
        }),
    exited: p.exited,
    running: () => p.child.exitCode === null && p.child.signalCode === null,
    async stop(
      signal: NodeJS.Signals = 'SIGTERM',
      stopTimeoutMs = 20_000,
      stopOpts: { group?: boolean } = {},
    ) {
      if (p.child.exitCode !== null || p.child.signalCode !== null)
        return { ...(await p.exited), killed: false };
      if (stopOpts.group && !opts.processGroup)
        throw new Error('stop({ group }) needs startServer({ processGroup: true })');
      p.markSignalled();
      if (stopOpts.group) process.kill(-p.child.pid!, signal);
      else p.child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), stopTimeoutMs)));
      const first = await Promise.race([p.exited, timedOut]);
      clearTimeout(timer);
      if (first !== 'timeout') return { ...first, killed: false };
      p.child.kill('SIGKILL');
      return { ...(await p.exited), killed: true };
    },
  };
}

/** Runs the server until it exits on its own (a configuration error), with a time limit. */
export async function runServerToExit(
  env: Record<string, string | undefined>,
  timeoutMs = 30_000,
): Promise<ExitInfo & { stdout: string; stderr: string; output: string }> {
  const dataDir = makeDataDir();
  const port = await freePort();
  const p = spawnServer(childEnv({ PORT: String(port), DATA_DIR: dataDir, ...TEST_LIMITS, ...env }), dataDir);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const first = await Promise.race([p.exited, timedOut]);
  clearTimeout(timer);
  if (first === 'timeout') {
    p.child.kill('SIGKILL');
    await p.exited;
    throw new Error(`server still running after ${timeoutMs} ms:\n${p.output()}`);
  }
  return { ...first, stdout: p.stdout(), stderr: p.stderr(), output: p.output() };
}

/** PIDs of processes (the embedded PostgreSQL and its workers) whose command line names `dir`. */
export function processesUsing(dir: string): number[] {
  const r = spawnSync('pgrep', ['-f', dir], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return r.stdout
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * For afterAll: stops every server still running (SIGTERM, then SIGKILL), stops any PostgreSQL
 * left behind in their data directories, and removes the temp directories made here.
 */
export async function cleanupServers(): Promise<void> {
  const left = [...children];
  for (const { child } of left) child.kill('SIGTERM');
  const killGroup = (pid: number) => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  };
  await Promise.all(
    left.map(async ({ child, group }) => {
      const deadline = Date.now() + 10_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      if (child.exitCode === null && child.signalCode === null) {
        if (group) killGroup(child.pid!);
        else child.kill('SIGKILL');
      }
    }),
  );
  for (const dir of new Set([...tempDirs, ...left.map((l) => l.dataDir)])) {
    // Only PostgreSQL processes of our own temp directories, by pid: fast shutdown, then kill.
    let pids = processesUsing(dir);
    pids.forEach((pid) => process.kill(pid, 'SIGINT'));
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    pids = pids.filter(alive);
    pids.forEach((pid) => process.kill(pid, 'SIGKILL'));
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

// Last resort if the test process itself goes away: no server outlives it.
process.once('exit', () => {
  for (const { child, group } of children) {
    try {
      if (group) process.kill(-child.pid!, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});
