import 'reflect-metadata';
import { startApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createMetrics } from '../src/server/metrics';
import { buildAppSchema } from '../src/server/schema';
import { startLegacyEdge } from './legacy-edge';

/**
 * The server of bench/edge.ts: the application as `npm start` runs it (Fastify edge on PORT) and,
 * in the same process over the same ORM, services and schema, the old node:http edge on
 * LEGACY_PORT, so the two runs differ only by the edge.
 */
async function main() {
  const config = loadConfig();
  const app = await startApp(config);
  await startLegacyEdge(
    {
      config,
      orm: app.orm,
      schema: buildAppSchema(),
      services: app.services,
      log: app.log,
      metrics: createMetrics(),
    },
    Number(process.env.LEGACY_PORT),
  );
  process.on('SIGTERM', () => void app.stop().finally(() => process.exit(0)));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
