import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../src/db/embedded';
import { peakRssMb, post, ROOT, table, type Measured, startBenchServer, ensureDatabase } from './lib';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const DATABASE = 'edge_bench';

/** A storefront's catalog page (the query of bench/edge.ts, named): 20 products with merchant, prices, availability. */
const CATALOG_PAGE = `query CatalogPage($first: Int!) { products(first: $first) { totalCount edges { cursor node { id title
    merchant { name } priceRange { min { amount currency } max { amount currency } } availability } } } }`;
const ID = `sha256:${createHash('sha256').update(CATALOG_PAGE, 'utf8').digest('hex')}`;
const VARIABLES = { first: 20 };

interface Run {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

async function load(run: Run, base: string, pid: number, duration = DURATION): Promise<Measured> {
  const result = await autocannon({
    url: base + run.path,
    connections: CONNECTIONS,
    duration,
    method: run.method,
    headers: run.headers,
    body: run.body,
  });
  // One request outside the load, to see what a client gets (status, cache headers, SQL statements).
  const sample = await fetch(base + run.path, { method: run.method, headers: run.headers, body: run.body });
  const text = await sample.text();
  return {
    name: `${run.name} → ${sample.status}, ${sample.headers.get('cache-control') ?? '-'}`,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    // A 304 is the expected answer of a revalidation, not an error.
    errors: result.errors + result.timeouts + result['4xx'] + result['5xx'],
    // A 304 has no body to carry the count (the query still ran).
    sqlPerRequest: text ? (JSON.parse(text).extensions?.sqlStatements ?? NaN) : '-',
    peakRssMb: peakRssMb(pid),
  };
}

/**
 * Persisted GET vs POST for the catalog page (issue 11, item 3): the same document sent as text by
 * POST (an ad-hoc client), by id by POST, by id by GET (what the storefront sends; the answer is
 * `Cache-Control: public` with an ETag), and the same GET revalidated with If-None-Match (304,
 * what a CDN or a browser pays once its copy is stale). The server is the application as
 * `npm start` runs it, with the document in its manifest (TRUSTED_DOCUMENTS_MANIFEST, not enforced).
 */
export async function persistedBench(url: string): Promise<void> {
  const databaseUrl = await ensureDatabase(url, DATABASE);
  const dir = join(ROOT, '.data', 'bench');
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, 'persisted-bench-manifest.json');
  writeFileSync(manifest, JSON.stringify({ [ID]: CATALOG_PAGE }));
  const byText = JSON.stringify({ query: CATALOG_PAGE, variables: VARIABLES });
  const { child: server, port } = await startBenchServer(
    {
      DATABASE_URL: databaseUrl,
      LEGACY_PORT: String(await freePort()),
      DEMO_DATA: 'true', // the first start loads the demo catalog: up to 5 minutes
      LOG_LEVEL: 'info',
      DATA_DIR: dir,
      TRUSTED_DOCUMENTS_MANIFEST: manifest,
    },
    { script: 'dist/bench/edge-server.js', readyBody: byText, readyTimeoutMs: 300_000 },
  );
  server.stdout!.resume();
  try {
    const base = `http://127.0.0.1:${port}`;
    const search = new URLSearchParams({ documentId: ID, variables: JSON.stringify(VARIABLES) });
    const getHeaders = { 'apollo-require-preflight': 'true' };
    const first = await fetch(`${base}/graphql?${search}`, { headers: getHeaders });
    const etag = first.headers.get('etag');
    const [a, b]: any[] = [await first.json(), await post(`${base}/graphql`, byText)];
    if (!etag || JSON.stringify(a.data) !== JSON.stringify(b.data) || a.data.products.edges.length !== 20)
      throw new Error(`GET and POST answer differently, or no ETag: ${JSON.stringify(a).slice(0, 200)}`);

    const runs: Run[] = [
      {
        name: 'POST, document text',
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json' },
        body: byText,
      },
      {
        name: 'POST, documentId',
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ documentId: ID, variables: VARIABLES }),
      },
      { name: 'GET, documentId', method: 'GET', path: `/graphql?${search}`, headers: getHeaders },
      {
        name: 'GET, documentId, If-None-Match',
        method: 'GET',
        path: `/graphql?${search}`,
        headers: { ...getHeaders, 'if-none-match': etag },
      },
    ];
    for (const run of runs) await load(run, base, server.pid!, 3); // warm-up
    const rows: Measured[] = [];
    // Interleaved twice, so drift of the shared machine shows as the spread between rounds.
    for (const round of [1, 2])
      for (const run of runs)
        rows.push(await load({ ...run, name: `${run.name} (round ${round})` }, base, server.pid!));
    table(
      `Persisted documents: catalog page (20 products), ${CONNECTIONS} connections, ${DURATION} s per run, one server process`,
      rows,
      rows[0],
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
}
