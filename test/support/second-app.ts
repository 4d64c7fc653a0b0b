import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { client } from './client';
import { ADMIN, type TestApp } from './app';

/**
 * Another app instance on the same database as `first` (its own pools, job workers, relay,
 * switch copy, sandbox provider and HTTP port), as a second server process behind a load balancer
 * would be.
 */
export async function startSecondApp(first: TestApp, env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'commerce-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: first.app.config.databaseUrl!,
    PORT: '0',
    DATA_DIR: dataDir,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: first.app.config.jwtSecret,
    PAYMENT_WEBHOOK_SECRET: first.app.config.paymentWebhookSecret,
    LOGISTICS_WEBHOOK_SECRET: first.app.config.logisticsWebhookSecret,
    PAYMENT_PROVIDER_API_KEY: first.app.config.paymentProviderApiKey,
    PAYMENT_PROVIDER: 'sandbox',
    CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
    CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'error',
    DB_POOL_SIZE: '5',
    PROMOTION_CACHE_TTL_MS: '0',
    ...env,
  });
  const app = await startApp(config);
  return {
    app,
    url: app.url,
    gql: client(app.url),
    async stop() {
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
