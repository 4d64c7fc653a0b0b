import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { client, type Gql } from './client';
import { createTestDatabase } from './db';

export const ADMIN = { email: 'admin@test.local', password: 'admin-password-1' };

export interface TestApp {
  app: App;
  gql: Gql;
  url: string;
  stop(): Promise<void>;
}

/** The real server, in this process, on its own database and an ephemeral port. */
export async function startTestApp(env: Record<string, string> = {}, log?: Logger): Promise<TestApp> {
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'commerce-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    PORT: '0',
    DATA_DIR: dataDir,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET: 'test-jwt-secret-0123456789abcdef',
    PAYMENT_WEBHOOK_SECRET: 'test-payment-secret-0123456789',
    LOGISTICS_WEBHOOK_SECRET: 'test-logistics-secret-01234567',
    DEMO_DATA: 'false',
    LOG_LEVEL: 'error',
    DB_POOL_SIZE: '10',
    // Tests change promotions with SQL too; the in-process reuse would hide that for seconds.
    PROMOTION_CACHE_TTL_MS: '0',
    // Every test client is 127.0.0.1: the tests of the limits themselves set low ones.
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_USER_PER_MINUTE: '1000000',
    SIGNIN_MAX_FAILURES: '1000',
    PASSWORD_HASH_QUEUE: '10000',
    SIGNIN_CONCURRENT_PER_IP: '10000',
    // A database of its own: the card provider is named (the sandbox, unless a test gives a URL).
    PAYMENT_PROVIDER: env.PAYMENT_PROVIDER_URL ? 'http' : 'sandbox',
    // Tests place many checkouts per customer; the tests of the caps set low ones.
    CHECKOUT_MAX_UNPAID_PER_CUSTOMER: '10000',
    CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER: '1000000',
    // Tests sign customers up and use the token at once, also those that run as production; the
    // tests of verification by mail (test/integration/signup-verification.test.ts) set `email`.
    SIGNUP_VERIFICATION: 'off',
    ...env,
  });
  const app = await startApp(config, log);
  return {
    app,
    url: app.url,
    gql: client(app.url),
    async stop() {
      await app.stop();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
