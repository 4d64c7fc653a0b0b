// Starts one real PostgreSQL for the whole run (embedded, or DATABASE_URL when set) and migrates a
// template database; each test file then creates its own database from the template in milliseconds.
import { createRequire } from 'node:module';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(fileURLToPath(import.meta.url), '..', '..', '..');

export default async function globalSetup() {
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const { startEmbeddedPostgres } = require('../../dist/src/db/embedded.js');
    const dir = mkdtempSync(join(tmpdir(), 'commerce-test-pg-'));
    chmodSync(dir, 0o755); // the server runs as the postgres user when we are root
    // A throw-away server (a fresh directory per run; tests that crash PostgreSQL start their own,
    // test/support/pg-server.ts, with the same settings): commits do not wait for the disk. On a
    // loaded machine an fsync can take seconds, which timed out waits that have nothing to do
    // with durability (a flash-sale commit seen stuck in WalSync), and it costs every test time.
    const db = await startEmbeddedPostgres(join(dir, 'pg'), undefined, {
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
    });
    globalThis.__EMBEDDED_PG__ = db;
    baseUrl = db.url;
  }
  const template = 'commerce_test_template';
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${template}`);
  await admin.query(`create database ${template}`);
  await admin.end();

  // Migrated by the real migrate command, in a child process: loading MikroORM into jest's main
  // process would share its metadata with test files that run in band.
  execFileSync(process.execPath, [join(root, 'dist/scripts/migrate.js')], {
    env: { ...process.env, DATABASE_URL: withDatabase(baseUrl, template), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  process.env.TEST_REDIS_URL = process.env.REDIS_URL ?? (await startRedis());
  delete process.env.REDIS_URL;
  process.env.TEST_PG_URL = baseUrl;
  process.env.TEST_PG_TEMPLATE = template;
  delete process.env.DATABASE_URL;
}

export function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A real Redis for the suites that fan events out across processes: redis-server from PATH on a
 * free port, in memory only. Missing redis-server fails the run (DESIGN.md: no skipped suites).
 * The free port is only free when probed: another run starting at the same moment may take it, and
 * then both runs would share one Redis. So the server that answers must be our child (its pid), else
 * we try another port.
 */
async function startRedis() {
  const { Redis } = require('ioredis');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await new Promise((resolve, reject) => {
      child.once('error', (err) =>
        reject(
          new Error(
            `redis-server could not start (install it: apt-get install redis-server): ${err.message}`,
          ),
        ),
      );
      child.once('spawn', resolve);
    });
    const url = `redis://127.0.0.1:${port}`;
    if ((await serverPid(url, Redis)) === child.pid) {
      globalThis.__REDIS__ = child;
      return url;
    }
    child.kill('SIGKILL');
    if (attempt === 5) throw new Error(`port ${port}: another redis-server answered, five times`);
  }
}

/** The pid of the redis-server answering at url, waiting up to 10 s for one to listen. */
async function serverPid(url, Redis) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      const info = await probe.info('server');
      await probe.quit();
      return Number(/process_id:(\d+)/.exec(info)?.[1]);
    } catch (err) {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server did not start at ${url}: ${err.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}
