import { freePort } from '../src/db/embedded';
import { peakRssMb, post, table, waitFor, type Measured, startBenchServer, ensureDatabase } from './lib';

// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const DATABASE = 'edge_bench';

/** A storefront's catalog page: 20 products with merchant, prices and availability. */
const CATALOG_PAGE = JSON.stringify({
  query: `query CatalogPage { products(first: 20) { totalCount edges { cursor node { id title
    merchant { name } priceRange { min { amount currency } max { amount currency } } availability } } } }`,
});

/** The smallest operation: what is left is the edge and Apollo's own work. */
const TYPENAME = JSON.stringify({ query: 'query Ping { __typename }' });

async function load(
  name: string,
  url: string,
  pid: number,
  headers: Record<string, string> = {},
  duration = DURATION,
  body = CATALOG_PAGE,
): Promise<Measured> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const sample = await post(url, body);
  return {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    sqlPerRequest: sample.extensions?.sqlStatements ?? NaN,
    peakRssMb: peakRssMb(pid),
  };
}

/**
 * The cost of the HTTP edge: the same catalog query through the Fastify edge (CORS, compression
 * plugin, request ids, access log at info) and through the old hand-written node:http router, both
 * in one server process over the same ORM and services, measured one after the other.
 */
export async function edgeBench(url: string): Promise<void> {
  const databaseUrl = await ensureDatabase(url, DATABASE);
  const legacyPort = await freePort();
  const { child: server, gqlUrl: fastifyUrl } = await startBenchServer(
    {
      DATABASE_URL: databaseUrl,
      LEGACY_PORT: String(legacyPort),
      DEMO_DATA: 'true', // the first start loads the demo catalog: up to 5 minutes
      // Production's level: the edge writes its access-log line for every request (drained below).
      LOG_LEVEL: 'info',
      CORS_ORIGINS: 'https://shop.example.com',
    },
    { script: 'dist/bench/edge-server.js', readyBody: CATALOG_PAGE, readyTimeoutMs: 300_000 },
  );
  server.stdout!.resume();
  try {
    const legacyUrl = `http://127.0.0.1:${legacyPort}/graphql`;
    await waitFor(legacyUrl, CATALOG_PAGE);
    const [a, b] = await Promise.all([post(fastifyUrl, CATALOG_PAGE), post(legacyUrl, CATALOG_PAGE)]);
    if (JSON.stringify(a.data) !== JSON.stringify(b.data))
      throw new Error('the two edges answer differently');
    if (a.data.products.edges.length !== 20) throw new Error(`expected a page of 20: ${JSON.stringify(a)}`);

    await load('warmup', legacyUrl, server.pid!, {}, 3);
    await load('warmup', fastifyUrl, server.pid!, {}, 3);
    const rows: Measured[] = [];
    // Interleaved twice, so drift of the shared machine shows as the spread between rounds.
    for (const round of [1, 2]) {
      rows.push(await load(`old node:http edge (round ${round})`, legacyUrl, server.pid!));
      rows.push(await load(`Fastify edge (round ${round})`, fastifyUrl, server.pid!));
    }
    rows.push(
      await load('Fastify edge, Accept-Encoding: gzip', fastifyUrl, server.pid!, {
        'accept-encoding': 'gzip',
      }),
    );
    // The edge's own cost, with almost nothing behind it.
    rows.push(
      await load('old node:http edge, { __typename }', legacyUrl, server.pid!, {}, DURATION, TYPENAME),
    );
    rows.push(await load('Fastify edge, { __typename }', fastifyUrl, server.pid!, {}, DURATION, TYPENAME));
    table(
      `HTTP edge: catalog page (20 products), ${CONNECTIONS} connections, ${DURATION} s per run, one server process`,
      rows,
      rows[0],
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
}
