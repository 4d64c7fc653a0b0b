import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { freePort } from '../../src/db/embedded';

/**
 * A real PostgreSQL server that a test owns and can hurt: start, stop (fast or immediate), restart,
 * freeze (SIGSTOP of the postmaster and every process it forked), thaw, make read-only
 * and lock tables. For fault tests (test/e2e/faults.test.ts) and replica tests (startReplica below):
 * port, data directory and server settings are parameters.
 *
 * Uses the server binaries of PG_BIN (default /usr/lib/postgresql/15/bin; `.ci/run` installs the
 * postgresql-15 package). PostgreSQL refuses to run as root: as root, it runs as OS user
 * PG_OS_USER (default `postgres`) through setpriv, in a fresh temp directory that user owns.
 */

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const OS_USER = process.env.PG_OS_USER ?? 'postgres';

export interface PgServerOptions {
  /** Default: a free port. */
  port?: number;
  /** Default: a fresh temp directory (removed by destroy()). An existing cluster is reused as is. */
  dataDir?: string;
  /** Server settings (`-c name=value`), on top of fast, test-friendly defaults. */
  settings?: Record<string, string | number>;
}

export interface PgServer {
  port: number;
  dataDir: string;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** The postmaster's pid. */
  pid(): number | undefined;
  start(): Promise<void>;
  /** `fast` (SIGINT: sessions end, clean shutdown) or `immediate` (SIGQUIT: like a crash). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP to the postmaster and all its processes: connections stay open, nothing answers (a hung host or VM pause). */
  freeze(): void;
  thaw(): void;
  frozen(): boolean;
  /** default_transaction_read_only for every session (ALTER SYSTEM + reload), as when a primary is fenced. */
  setReadOnly(on: boolean): Promise<void>;
  /** Holds a table lock in an open transaction until the returned function is called. */
  lockTable(database: string, table: string, mode?: string): Promise<() => Promise<void>>;
  /** One statement on a short-lived connection. */
  query<T = any>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
  createDatabase(name: string): Promise<string>;
  /** Stops the server (thawing it first) and removes a data directory this helper created. */
  destroy(): Promise<void>;
}

/** The pids whose parent is `pid` (the postmaster's backends and auxiliary processes). */
function childrenOf(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

const asRoot = () => process.getuid?.() === 0;

function userId(name: string): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`OS user ${name} is missing (PostgreSQL cannot run as root)`);
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** argv that runs `bin` as OS_USER when we are root (setpriv execs: the pid is the program's own). */
function command(bin: string, args: string[]): [string, string[]] {
  const exe = join(BIN, bin);
  if (!asRoot()) return [exe, args];
  return ['setpriv', [`--reuid=${OS_USER}`, `--regid=${OS_USER}`, '--init-groups', exe, ...args]];
}

const DEFAULT_SETTINGS: Record<string, string | number> = {
  listen_addresses: '127.0.0.1',
  max_connections: 100,
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: '32MB',
  log_min_messages: 'fatal',
  // A frozen client socket is noticed by a backend that has nothing to send (PG 14+).
  client_connection_check_interval: '1s',
};

export async function startPgServer(opts: PgServerOptions = {}): Promise<PgServer> {
  const port = opts.port ?? (await freePort());
  const ownDir = !opts.dataDir;
  const root = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'pg-server-'));
  const dataDir = opts.dataDir ?? join(root!, 'data');
  const socketDir = opts.dataDir ? join(opts.dataDir, '..', `sock-${port}`) : join(root!, 'sock');
  if (root) chmodSync(root, 0o755);
  mkdirSync(socketDir, { recursive: true });
  if (asRoot()) {
    const { uid, gid } = userId(OS_USER);
    chownSync(socketDir, uid, gid);
    if (ownDir) {
      mkdirSync(dataDir, { recursive: true });
      chownSync(dataDir, uid, gid);
    }
  }
  if (ownDir) {
    const [exe, args] = command('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    const r = spawnSync(exe, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr || r.stdout || r.error}`);
  }
  const settings = { ...DEFAULT_SETTINGS, ...opts.settings, port, unix_socket_directories: socketDir };

  let child: ChildProcess | undefined;
  let exited: Promise<void> | undefined;
  let isFrozen = false;
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;

  /**
   * Signals the postmaster and every process it forked. Not by process group: each child of the
   * postmaster calls setsid(), so a signal to the postmaster's group reaches the postmaster alone.
   */
  const signal = (sig: NodeJS.Signals) => {
    if (!child?.pid) return;
    const pids = [child.pid, ...childrenOf(child.pid)];
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    }
  };

  async function query<T>(sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> {
    const c = new Client({ connectionString: url(database), connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  const server: PgServer = {
    port,
    dataDir,
    url,
    pid: () => child?.pid,
    async start() {
      if (child) return;
      const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
      const [exe, argv] = command('postgres', args);
      const output: string[] = [];
      const c = spawn(exe, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout!.on('data', (d) => output.push(String(d)));
      c.stderr!.on('data', (d) => output.push(String(d)));
      child = c;
      exited = new Promise((resolve) =>
        c.once('exit', () => {
          if (child === c) child = undefined;
          resolve();
        }),
      );
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (!child) throw new Error(`postgres exited at start:\n${output.join('')}`);
        try {
          await query('select 1');
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`postgres not ready in 30 s:\n${output.join('')}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async stop(mode = 'fast') {
      if (!child) return;
      if (isFrozen) server.thaw();
      const c = child;
      const kids = childrenOf(c.pid!);
      c.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      const timer = setTimeout(() => signal('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      // No orphaned backend outlives the postmaster.
      for (const pid of kids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // ended with the postmaster
        }
      }
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    freeze() {
      signal('SIGSTOP');
      isFrozen = true;
    },
    thaw() {
      signal('SIGCONT');
      isFrozen = false;
    },
    frozen: () => isFrozen,
    async setReadOnly(on) {
      const c = new Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query('set default_transaction_read_only = off');
        await c.query(
          on
            ? 'alter system set default_transaction_read_only = on'
            : 'alter system reset default_transaction_read_only',
        );
        await c.query('select pg_reload_conf()');
      } finally {
        await c.end();
      }
      // Every backend applies the reload at its next command; give them a moment to read it.
      await new Promise((r) => setTimeout(r, 200));
    },
    async lockTable(database, table, mode = 'ACCESS EXCLUSIVE') {
      const c = new Client({ connectionString: url(database) });
      await c.connect();
      await c.query('begin');
      await c.query(`lock table ${table} in ${mode} mode`);
      return async () => {
        await c.query('rollback').catch(() => undefined);
        await c.end().catch(() => undefined);
      };
    },
    query,
    async createDatabase(name) {
      await query(`create database ${name}`);
      return url(name);
    },
    async destroy() {
      await server.stop().catch(() => undefined);
      if (root) rmSync(root, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

export interface ReplicaOptions {
  /** recovery_min_apply_delay: commits become visible on the replica this long after the primary. */
  applyDelayMs?: number;
  settings?: Record<string, string | number>;
}

/**
 * A streaming replica of `primary` (a PgServer of this file, whose default pg_hba trusts local
 * replication connections): `pg_basebackup -R` into a fresh directory, then a hot standby.
 * `applyDelayMs` makes the lag visible and deterministic (WAL arrives at once, commits are applied
 * that much later). destroy() stops it and removes its directory.
 */
export async function startReplica(primary: PgServer, opts: ReplicaOptions = {}): Promise<PgServer> {
  const root = mkdtempSync(join(tmpdir(), 'pg-replica-'));
  chmodSync(root, 0o755);
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  if (asRoot()) {
    const { uid, gid } = userId(OS_USER);
    chownSync(root, uid, gid);
    chownSync(dataDir, uid, gid);
  }
  const [exe, args] = command('pg_basebackup', [
    '-D',
    dataDir,
    '-R', // standby.signal + primary_conninfo
    '-X',
    'stream',
    '--checkpoint=fast',
    '--no-sync',
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
  ]);
  const r = spawnSync(exe, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`pg_basebackup failed: ${r.stderr || r.stdout || r.error}`);
  }
  const replica = await startPgServer({
    dataDir,
    settings: {
      hot_standby: 'on',
      ...(opts.applyDelayMs ? { recovery_min_apply_delay: `${opts.applyDelayMs}ms` } : {}),
      // WAL of the primary's settings is replayed: it needs at least as many connections.
      max_connections: 100,
      ...opts.settings,
    },
  });
  const destroy = replica.destroy;
  replica.destroy = async () => {
    await destroy();
    rmSync(root, { recursive: true, force: true });
  };
  return replica;
}

/** A redis-server of the test's own (the shared one of the global setup must not be stopped). */
export interface RedisServer {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const server: RedisServer = {
    url,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      const deadline = Date.now() + 10_000;
      for (;;) {
        const probe = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          await probe.quit();
          return;
        } catch {
          probe.disconnect();
          if (Date.now() > deadline) throw new Error('redis-server did not start');
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    },
  };
  await server.start();
  return server;
}
