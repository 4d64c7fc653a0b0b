// Starts one real PostgreSQL for the whole run (embedded, or DATABASE_URL when set) and migrates a
// template database; each test file then creates its own database from the template in milliseconds.
import { createRequire } from 'node:module';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(fileURLToPath(import.meta.url), '..', '..', '..');

export default async function globalSetup() {
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const { startEmbeddedPostgres } = require('../../dist/src/db/embedded.js');
    const dir = mkdtempSync(join(tmpdir(), 'commerce-test-pg-'));
    chmodSync(dir, 0o755); // the server runs as the postgres user when we are root
    const db = await startEmbeddedPostgres(join(dir, 'pg'));
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

  process.env.TEST_PG_URL = baseUrl;
  process.env.TEST_PG_TEMPLATE = template;
  delete process.env.DATABASE_URL;
}

export function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
