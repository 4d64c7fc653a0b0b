import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { client } from '../support/client';
import { cleanupServers, startServer } from '../support/server-process';

/**
 * `npm start` as root from a checkout under a folder only root may enter (mode 0700, like a checkout
 * in /root), and with a DATA_DIR that already exists with mode 0700. PostgreSQL refuses to run as
 * root, so the embedded database runs as the `postgres` user, which cannot enter such folders: the
 * server must still start, serve and restart on its data. CI runs as root, so this runs there.
 */

const ROOT = resolve(__dirname, '../..');
const asRoot = process.getuid?.() === 0;
const privateBase = mkdtempSync(join(tmpdir(), 'commerce-0700-'));
chmodSync(privateBase, 0o700);
const project = join(privateBase, 'checkout');

beforeAll(() => {
  // A copy of the built project (hard links: fast, no extra space) inside the private folder.
  mkdirSync(project);
  execFileSync('cp', ['-al', join(ROOT, 'dist'), join(ROOT, 'node_modules'), project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'copy', private: true }));
}, 60_000);

afterAll(async () => {
  await cleanupServers();
  rmSync(privateBase, { recursive: true, force: true });
});

const ENV = { DEMO_DATA: 'false', LOG_LEVEL: 'info' };
const QUERY = '{ categories { id } products(first: 1) { totalCount } }';

test('the server starts from a 0700 folder, serves, and starts again on its data', async () => {
  expect(asRoot || process.env.CI !== 'true').toBe(true); // CI must exercise the root case
  const dataDir = join(project, '.data');
  const first = await startServer({ root: project, dataDir, env: ENV });
  const gql = client(first.url);
  expect((await gql(QUERY)).errors).toBeUndefined();
  expect((await first.stop('SIGTERM')).code).toBe(0);

  const second = await startServer({ root: project, dataDir, env: ENV });
  const r = await client(second.url)(QUERY);
  expect(r.errors).toBeUndefined();
  expect((await second.stop('SIGTERM')).code).toBe(0);
  if (asRoot) {
    // The cluster lives where the postgres user can reach it; DATA_DIR/pg points there.
    expect(lstatSync(join(dataDir, 'pg')).isSymbolicLink()).toBe(true);
    rmSync(resolve(readlinkSync(join(dataDir, 'pg')), '..'), { recursive: true, force: true });
  }
}, 180_000);

test('an existing 0700 DATA_DIR works', async () => {
  const dataDir = join(privateBase, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  const server = await startServer({ root: project, dataDir, env: ENV });
  expect((await client(server.url)(QUERY)).errors).toBeUndefined();
  expect((await server.stop('SIGTERM')).code).toBe(0);
  if (asRoot) rmSync(resolve(readlinkSync(join(dataDir, 'pg')), '..'), { recursive: true, force: true });
}, 180_000);
