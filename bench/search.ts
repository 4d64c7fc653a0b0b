import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../src/db/embedded';
import { cpuPerRequest, peakRssMb, post, ROOT, startChild, table, waitFor, type Measured } from './lib';
import { SEARCH_BODIES } from './search-queries';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');

const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

async function load(
  name: string,
  url: string,
  bodies: string[],
  pid: number,
  duration = DURATION,
): Promise<Measured> {
  let i = 0;
  const cpu = cpuPerRequest(pid);
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
  const cpuMs = cpu(result.requests.total);
  // Statements per request as the server reports them, right after the load (warm caches).
  const samples = await Promise.all(bodies.map((b) => post(url, b)));
  const sqlPerRequest =
    samples.reduce((s, r) => s + (r.extensions?.sqlStatements ?? NaN), 0) / samples.length;
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    sqlPerRequest,
    peakRssMb: peakRssMb(pid),
    cpuMs,
  };
}

/** The benchmark catalog (BENCH_PRODUCTS products), seeded once into `url` and reused. */
async function ensureCatalog(url: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  const has = await c.query(`select to_regclass('product') is not null as ok`);
  const count = has.rows[0].ok ? (await c.query('select count(*)::int as n from product')).rows[0].n : 0;
  await c.end();
  if (count >= PRODUCTS) return;
  console.log(`seeding ${PRODUCTS - count} products (once; reused by later runs)...`);
  await new Promise<void>((resolve, reject) => {
    const seed = spawn(
      process.execPath,
      [join(ROOT, 'dist/scripts/seed.js'), '--products', String(PRODUCTS - count)],
      {
        env: { ...process.env, DATABASE_URL: url },
        stdio: 'inherit',
      },
    );
    seed.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed exited ${code}`))));
  });
}

/**
 * Faceted full-text search, `products(filter: {query, attributes}, first: 20)` with facets, at
 * BENCH_CONNECTIONS clients, against a bare node:http + pg + graphql-js server running the same SQL.
 */
export async function searchBench(url: string): Promise<void> {
  await ensureCatalog(url);
  const children: ChildProcess[] = [];
  try {
    const [basePort, appPort, cachedPort] = [await freePort(), await freePort(), await freePort()];
    const baseline = startChild('dist/bench/baseline-server.js', {
      DATABASE_URL: url,
      PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
      PORT: String(basePort),
    });
    const appEnv = (port: number, cacheTtlMs: number) => ({
      DATABASE_URL: url,
      PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
      PORT: String(port),
      DEMO_DATA: 'false',
      EXPOSE_SQL_STATS: 'true',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      DATA_DIR: join(ROOT, '.data', 'bench'),
      SEARCH_CACHE_TTL_MS: String(cacheTtlMs),
      // The per-IP limit stays on (every request is counted), sized for one load generator's IP.
      RATE_LIMIT_IP_PER_MINUTE: '10000000',
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
      const pick = (r: any) =>
        JSON.stringify({
          total: r.data?.products.totalCount,
          facets: r.data?.products.facets,
          ids: r.data?.products.edges.map((e: any) => e.node.id),
        });
      if (pick(a) !== pick(b) || pick(c) !== pick(b))
        throw new Error(`answers differ for ${body}:\n${pick(a)}\n${pick(b)}`);
    }
    const sample = await post(appUrl, SEARCH_BODIES[0]);
    console.log(`catalog: ${PRODUCTS} products; sample search totalCount ${sample.data.products.totalCount}`);

    // Warm all three (caches, JIT), then measure the baseline first.
    await load('warmup', baseUrl, SEARCH_BODIES, baseline.pid!, 3);
    await load('warmup', appUrl, SEARCH_BODIES, app.pid!, 3);
    await load('warmup', cachedUrl, SEARCH_BODIES, cached.pid!, 3);
    const base = await load(
      'baseline: node:http + pg + graphql-js, same SQL',
      baseUrl,
      SEARCH_BODIES,
      baseline.pid!,
    );
    const ours = await load(
      'this server, search cache off (same SQL every request)',
      appUrl,
      SEARCH_BODIES,
      app.pid!,
    );
    const oursCached = await load(
      'this server, default 5 s search cache',
      cachedUrl,
      SEARCH_BODIES,
      cached.pid!,
    );
    table(
      `Faceted full-text search: ${PRODUCTS} products, ${CONNECTIONS} connections, ${DURATION} s per run, ${SEARCH_BODIES.length} distinct queries`,
      [base, ours, oursCached],
      base,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
}
