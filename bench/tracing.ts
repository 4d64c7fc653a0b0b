import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { freshDatabase } from './checkout';
import { closedLoop, peakRssMb, post, table, type Measured, startBenchServer, stopBenchServer } from './lib';

const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONCURRENCY = Number(process.env.BENCH_CONNECTIONS ?? 20);

/** A simple query that reads the database: one HTTP span, GraphQL spans and one pg span when traced. */
const QUERY = JSON.stringify({ query: '{ categories { id name slug } }' });

/**
 * Tracing overhead: the same server and query with tracing off (the default) and on (every span
 * exported over OTLP/HTTP to a local collector that accepts and drops them), measured in the same
 * run. The off run is the baseline.
 */
export async function tracingBench(serverUrl: string): Promise<void> {
  const url = await freshDatabase(serverUrl, 'bench_tracing');
  const collector = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
  const children: ChildProcess[] = [];
  try {
    const rows: Measured[] = [];
    for (const [name, extra] of [
      ['tracing off', {}],
      [
        'tracing on (OTLP)',
        { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as { port: number }).port}` },
      ],
    ] as const) {
      const server = await startBenchServer({ DATABASE_URL: url, ...extra });
      const { child: app, gqlUrl } = server;
      children.push(app);
      const task = async () => {
        const r = await post(gqlUrl, QUERY);
        if (!r.data) throw new Error(JSON.stringify(r).slice(0, 200));
        return true;
      };
      await closedLoop(CONCURRENCY, 3_000, task); // warm-up
      const m = await closedLoop(CONCURRENCY, DURATION * 1000, task);
      rows.push({ name, ...m, sqlPerRequest: 1, peakRssMb: peakRssMb(app.pid!) });
      await stopBenchServer(server);
    }
    table(
      `Tracing overhead: { categories } with ${CONCURRENCY} concurrent clients, ${DURATION} s each`,
      rows,
      rows[0],
    );
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    collector.close();
  }
}
