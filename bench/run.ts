import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, startEmbeddedPostgres } from '../src/db/embedded';
import { SEARCH_BODIES } from './search-queries';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');

/**
 * `npm run bench`: each benchmark against a baseline measured in the same run on the same machine.
 *
 * Env: BENCH_PRODUCTS (100000), BENCH_DURATION seconds per run (15), BENCH_CONNECTIONS (20),
 * BENCH_DATABASE_URL (else an embedded PostgreSQL in .data/bench, seeded once and reused).
 */
const ROOT = join(__dirname, '..', '..');
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

interface Measured {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  sqlPerRequest: number;
  peakRssMb: number;
}

function startChild(script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (d) => process.stderr.write(`[${script}] ${d}`));
  return child;
}

async function waitFor(url: string, body: string, timeoutMs = 60_000): Promise<void> {
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

async function post(url: string, body: string): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return r.json();
}

/** Peak resident memory of a process, from the kernel. */
const peakRssMb = (pid: number) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function load(name: string, url: string, bodies: string[], pid: number, duration = DURATION): Promise<Measured> {
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[i++ % bodies.length] }),
      },
    ],
  });
  // Statements per request as the server reports them, right after the load (warm caches).
  const samples = await Promise.all(bodies.map((b) => post(url, b)));
  const sqlPerRequest = samples.reduce((s, r) => s + (r.extensions?.sqlStatements ?? NaN), 0) / samples.length;
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    sqlPerRequest,
    peakRssMb: peakRssMb(pid),
  };
}

async function ensureCatalog(): Promise<{ url: string; stop: () => Promise<void> }> {
  let url = process.env.BENCH_DATABASE_URL;
  let stop = async () => undefined as void;
  if (!url) {
    const dir = join(ROOT, '.data', 'bench');
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const db = await startEmbeddedPostgres(join(dir, 'pg'));
    url = db.url;
    stop = db.stop;
  }
  const c = new Client({ connectionString: url });
  await c.connect();
  const has = await c.query(`select to_regclass('product') is not null as ok`);
  const count = has.rows[0].ok ? (await c.query('select count(*)::int as n from product')).rows[0].n : 0;
  await c.end();
  if (count < PRODUCTS) {
    console.log(`seeding ${PRODUCTS - count} products (once; reused by later runs)...`);
    await new Promise<void>((resolve, reject) => {
      const seed = spawn(process.execPath, [join(ROOT, 'dist/scripts/seed.js'), '--products', String(PRODUCTS - count)], {
        env: { ...process.env, DATABASE_URL: url },
        stdio: 'inherit',
      });
      seed.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed exited ${code}`))));
    });
  }
  return { url: url!, stop };
}

function table(rows: Measured[], baseline: Measured) {
  console.log('\n| server | req/s | ratio to baseline | p50 ms | p99 ms | SQL/request | peak RSS MB | errors |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / baseline.rps).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.sqlPerRequest} | ${r.peakRssMb.toFixed(0)} | ${r.errors} |`,
    );
  }
}

async function main() {
  if (!existsSync(join(ROOT, 'dist/scripts/seed.js'))) throw new Error('run `npm run build` first');
  const db = await ensureCatalog();
  const children: ChildProcess[] = [];
  try {
    const [basePort, appPort, cachedPort] = [await freePort(), await freePort(), await freePort()];
    const baseline = startChild('dist/bench/baseline-server.js', { DATABASE_URL: db.url, PORT: String(basePort) });
    const appEnv = (port: number, cacheTtlMs: number) => ({
      DATABASE_URL: db.url,
      PORT: String(port),
      DEMO_DATA: 'false',
      EXPOSE_SQL_STATS: 'true',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      DATA_DIR: join(ROOT, '.data', 'bench'),
      SEARCH_CACHE_TTL_MS: String(cacheTtlMs),
    });
    // The same SQL as the baseline on every request, and the default with the 5 s search cache.
    const app = startChild('dist/src/main.js', appEnv(appPort, 0));
    const cached = startChild('dist/src/main.js', appEnv(cachedPort, 5000));
    children.push(baseline, app, cached);
    const baseUrl = `http://127.0.0.1:${basePort}/graphql`;
    const appUrl = `http://127.0.0.1:${appPort}/graphql`;
    const cachedUrl = `http://127.0.0.1:${cachedPort}/graphql`;
    await Promise.all([baseUrl, appUrl, cachedUrl].map((u) => waitFor(u, SEARCH_BODIES[0])));

    // All servers must give the same answers before their speed is compared.
    for (const body of SEARCH_BODIES) {
      const [a, b, c] = await Promise.all([post(appUrl, body), post(baseUrl, body), post(cachedUrl, body)]);
      const pick = (r: any) => JSON.stringify({ total: r.data?.products.totalCount, facets: r.data?.products.facets, ids: r.data?.products.edges.map((e: any) => e.node.id) });
      if (pick(a) !== pick(b) || pick(c) !== pick(b)) throw new Error(`answers differ for ${body}:\n${pick(a)}\n${pick(b)}`);
    }
    const sample = await post(appUrl, SEARCH_BODIES[0]);
    console.log(`catalog: ${PRODUCTS} products; sample search totalCount ${sample.data.products.totalCount}`);
    console.log(`faceted full-text search, ${CONNECTIONS} connections, ${DURATION} s each, ${SEARCH_BODIES.length} distinct queries`);

    // Warm both (caches, JIT), then measure the baseline first and the application second.
    await load('warmup', baseUrl, SEARCH_BODIES, baseline.pid!, 3);
    await load('warmup', appUrl, SEARCH_BODIES, app.pid!, 3);
    await load('warmup', cachedUrl, SEARCH_BODIES, cached.pid!, 3);
    const base = await load('baseline: node:http + pg + graphql-js, same SQL', baseUrl, SEARCH_BODIES, baseline.pid!);
    const ours = await load('this server, search cache off (same SQL every request)', appUrl, SEARCH_BODIES, app.pid!);
    const oursCached = await load('this server, default 5 s search cache', cachedUrl, SEARCH_BODIES, cached.pid!);
    table([base, ours, oursCached], base);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    await db.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
