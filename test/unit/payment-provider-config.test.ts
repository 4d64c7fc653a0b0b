import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, requirePaymentProvider } from '../../src/config';
import { startApp } from '../../src/app';

/** Issue 12: the sandbox card provider (it pays without a card) only when asked for (docs/security.md). */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const config = (env: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), 'provider-config-'));
  dirs.push(dir);
  return loadConfig({ DATA_DIR: dir, ...env });
};
const SECRETS = {
  JWT_SECRET: 'jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'payment-secret-0123456789',
  LOGISTICS_WEBHOOK_SECRET: 'logistics-secret-0123456789',
  PAYMENT_PROVIDER_API_KEY: 'provider-api-key-0123456789',
  METRICS_TOKEN: 'metrics-token-0123456789',
};
const DB = { DATABASE_URL: 'postgres://db/shop' };

test('the embedded default (`npm start`, no DATABASE_URL) asks for the sandbox', () => {
  expect(requirePaymentProvider(config({}))).toBe('sandbox');
});

test('a DATABASE_URL setup without NODE_ENV names no provider: the server refuses to start, before anything runs', async () => {
  const c = config(DB);
  expect(c.security.paymentProvider).toBeNull();
  expect(() => requirePaymentProvider(c)).toThrow(ConfigError);
  expect(() => requirePaymentProvider(c)).toThrow(
    /^Invalid configuration: PAYMENT_PROVIDER must be chosen with DATABASE_URL: set PAYMENT_PROVIDER_URL .*PAYMENT_PROVIDER=sandbox/,
  );
  // startApp refuses at once: no database connection is even tried (the host `db` does not exist).
  await expect(startApp(c)).rejects.toThrow(/PAYMENT_PROVIDER must be chosen/);
});

test('PAYMENT_PROVIDER=sandbox is honoured outside production and refused in production', () => {
  expect(requirePaymentProvider(config({ ...DB, PAYMENT_PROVIDER: 'sandbox' }))).toBe('sandbox');
  expect(() => config({ ...DB, ...SECRETS, NODE_ENV: 'production', PAYMENT_PROVIDER: 'sandbox' })).toThrow(
    /PAYMENT_PROVIDER cannot be "sandbox" when NODE_ENV=production/,
  );
  expect(() =>
    config({ ...DB, PAYMENT_PROVIDER: 'sandbox', PAYMENT_PROVIDER_URL: 'https://p.example' }),
  ).toThrow(/unset PAYMENT_PROVIDER_URL/);
  expect(() => config({ PAYMENT_PROVIDER: 'fake' })).toThrow(/PAYMENT_PROVIDER must be "http" or "sandbox"/);
});

test('a provider URL means the real HTTP provider, with or without NODE_ENV', () => {
  const url = { PAYMENT_PROVIDER_URL: 'https://provider.example.com' };
  expect(requirePaymentProvider(config({ ...DB, ...url }))).toBe('http');
  expect(requirePaymentProvider(config({ ...url }))).toBe('http');
  expect(requirePaymentProvider(config({ ...DB, ...SECRETS, ...url, NODE_ENV: 'production' }))).toBe('http');
  expect(() => config({ ...DB, PAYMENT_PROVIDER: 'http' })).toThrow(
    /PAYMENT_PROVIDER_URL is required when PAYMENT_PROVIDER=http/,
  );
});
