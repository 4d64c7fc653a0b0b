import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/db/embedded';

/**
 * A real 3-master Redis Cluster on 127.0.0.1 (redis-server --cluster-enabled yes, joined with
 * `redis-cli --cluster create`), in memory only, in a temp directory. Slow to make (a second or
 * two): start one per test file, in beforeAll.
 */
export interface RedisClusterHandle {
  /** REDIS_URL for the server: redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 */
  url: string;
  ports: number[];
  /** redis-cli against one node (its output); `-c` is not added. */
  cli(port: number, ...args: string[]): string;
  stop(): Promise<void>;
}

/** A port whose cluster bus port (+10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + 10000 > 65535 || taken.has(p)) continue;
    const probe = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p + 10000, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (probe) {
      taken.add(p);
      return p;
    }
  }
}

const cli = (port: number, ...args: string[]) => {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return r.stdout + r.stderr;
};

export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'commerce-redis-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await clusterPort(taken));
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve, reject) => {
            c.once('error', (err) =>
              reject(
                new Error(`redis-server could not start (apt-get install redis-server): ${err.message}`),
              ),
            );
            c.once('spawn', resolve);
          }),
      ),
    );
    await until(() => ports.every((p) => cli(p, 'ping').trim() === 'PONG'), 10_000, 'nodes answering');
    const created = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8' },
    );
    if (created.status !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${created.stdout}${created.stderr}`);
    // Every node must know the whole slot map before clients ask any of them.
    await until(
      () => ports.every((p) => /cluster_state:ok/.test(cli(p, 'cluster', 'info'))),
      15_000,
      'cluster_state:ok on every node',
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    ports,
    cli,
    stop,
  };
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error(`Redis Cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
