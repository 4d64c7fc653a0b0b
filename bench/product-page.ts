import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../src/db/embedded';
import { BENCH_SERVER_ENV, peakRssMb, post, ROOT, startChild, table, waitFor, type Measured } from './lib';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');

const PRODUCTS = Number(process.env.BENCH_PAGE_PRODUCTS ?? 5_000);
const PAGES = Number(process.env.BENCH_PAGE_SLUGS ?? 500);
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const DATABASE = 'bench_product_page';

/** What a storefront's product page asks for. */
const PAGE = `query($s: String) { product(slug: $s) {
  id title slug description media { url alt width height } seo { title description }
  merchant { name } category { name slug }
  priceRange { min { amount currency } max { amount currency } } availability
  variants { id sku title price { amount currency } availability attributes { name value } } } }`;

async function load(
  name: string,
  url: string,
  bodies: string[],
  pid: number,
  duration = DURATION,
): Promise<Measured> {
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
  const samples = await Promise.all(bodies.slice(0, 50).map((b) => post(url, b)));
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
  };
}

/** A database of its own with BENCH_PAGE_PRODUCTS generated products (seeded once, reused). */
async function ensureCatalog(serverUrl: string): Promise<string> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  const exists = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
  if (exists.rowCount === 0) await admin.query(`create database ${DATABASE}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = `/${DATABASE}`;
  const url = u.toString();
  const c = new Client({ connectionString: url });
  await c.connect();
  const has = await c.query(`select to_regclass('product') is not null as ok`);
  const count = has.rows[0].ok ? (await c.query('select count(*)::int as n from product')).rows[0].n : 0;
  await c.end();
  if (count < PRODUCTS) {
    console.log(`seeding ${PRODUCTS - count} products for the product page (once)...`);
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
  return url;
}

/**
 * The product page by slug: this server with its catalog cache (memory; and Redis with
 * BENCH_REDIS_URL), with the cache off (the same SQL as the baseline on every request), and a bare
 * node:http + pg + graphql-js server running that SQL. Slugs rotate over BENCH_PAGE_SLUGS products.
 */
export async function productPageBench(serverUrl: string): Promise<void> {
  const url = await ensureCatalog(serverUrl);
  const c = new Client({ connectionString: url });
  await c.connect();
  const slugs = (await c.query(`select slug from product order by random() limit $1`, [PAGES])).rows.map(
    (r) => r.slug,
  );
  await c.end();
  const bodies = slugs.map((s) => JSON.stringify({ query: PAGE, variables: { s } }));
  const children: ChildProcess[] = [];
  try {
    const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
    // What every benchmarked server shares (bench/lib.ts): above all the per-IP rate limit raised,
    // since all load comes from 127.0.0.1 (with the default, nearly every request was a 429).
    const appEnv = (port: number, extra: Record<string, string>) => ({
      ...BENCH_SERVER_ENV,
      DATABASE_URL: url,
      PORT: String(port),
      ...extra,
    });
    const servers: { name: string; url: string; child: ChildProcess }[] = [];
    const add = (name: string, script: string, port: number, env: Record<string, string>) => {
      const child = startChild(script, env);
      children.push(child);
      servers.push({ name, url: `http://127.0.0.1:${port}/graphql`, child });
    };
    add(
      'baseline: node:http + pg + graphql-js, same SQL',
      'dist/bench/product-baseline-server.js',
      ports[0],
      {
        DATABASE_URL: url,
        PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
        PORT: String(ports[0]),
      },
    );
    add(
      'this server, catalog cache off (same SQL every request)',
      'dist/src/main.js',
      ports[1],
      appEnv(ports[1], { CATALOG_CACHE_TTL_MS: '0' }),
    );
    add('this server, catalog cache in memory (default)', 'dist/src/main.js', ports[2], appEnv(ports[2], {}));
    if (process.env.BENCH_REDIS_URL)
      add(
        'this server, catalog cache in Redis',
        'dist/src/main.js',
        ports[3],
        appEnv(ports[3], { REDIS_URL: process.env.BENCH_REDIS_URL }),
      );
    await Promise.all(servers.map((s) => waitFor(s.url, bodies[0], 120_000)));

    // Same answers everywhere before speeds are compared.
    for (const body of bodies.slice(0, 20)) {
      const answers = await Promise.all(servers.map((s) => post(s.url, body)));
      const texts = answers.map((a) => JSON.stringify(a.data));
      if (!answers[0].data?.product || texts.some((t) => t !== texts[0]))
        throw new Error(`answers differ for ${body}:\n${texts.join('\n')}`);
    }
    for (const s of servers) await load('warmup', s.url, bodies, s.child.pid!, 3);
    const results: Measured[] = [];
    for (const s of servers) results.push(await load(s.name, s.url, bodies, s.child.pid!));
    table(
      `Product page by slug: ${PRODUCTS} products, ${slugs.length} pages in rotation, ${CONNECTIONS} connections, ${DURATION} s per run`,
      results,
      results[0],
    );
  } finally {
    for (const ch of children) ch.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
}
