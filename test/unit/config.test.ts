import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'config-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const SECRETS = {
  JWT_SECRET: 'jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'payment-secret-0123456789',
  LOGISTICS_WEBHOOK_SECRET: 'logistics-secret-0123456789',
  PAYMENT_PROVIDER_API_KEY: 'provider-api-key-0123456789',
};

/** The ConfigError that loadConfig throws for `env`, or a failure when it accepts it. */
const failure = (env: Record<string, string>): ConfigError => {
  try {
    loadConfig({ DATA_DIR: tempDir(), ...env });
  } catch (e) {
    return e as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
};

describe('defaults', () => {
  test('an empty environment (apart from DATA_DIR) is the embedded development default', () => {
    const dir = tempDir();
    const c = loadConfig({ DATA_DIR: dir });
    expect(c).toMatchObject({
      nodeEnv: 'development',
      production: false,
      port: 4000,
      databaseUrl: undefined,
      databaseReplicaUrls: [],
      redisUrl: undefined,
      dataDir: dir,
      adminEmail: 'admin@example.com',
      adminPassword: undefined,
      tokenTtlSeconds: 604800,
      paymentWindowSeconds: 1800,
      logLevel: 'info',
      currency: 'USD',
      lowStockThreshold: 5,
      demoData: true,
      dbPoolSize: 10,
      limits: { maxDepth: 10, maxAliases: 15, maxCost: 25000, maxPageSize: 100 },
      exposeSqlStats: true,
    });
  });

  test('NODE_ENV=test logs at warn by default; a DATABASE_URL turns demo data off by default', () => {
    const c = loadConfig({
      DATA_DIR: tempDir(),
      NODE_ENV: 'test',
      DATABASE_URL: 'postgres://u:p@db:5432/shop',
    });
    expect(c.logLevel).toBe('warn');
    expect(c.databaseUrl).toBe('postgres://u:p@db:5432/shop');
    expect(c.demoData).toBe(false);
  });

  test('values are parsed and trimmed', () => {
    const c = loadConfig({
      DATA_DIR: tempDir(),
      PORT: ' 8080 ',
      PAYMENT_WINDOW_SECONDS: '10',
      DATABASE_URL: 'postgresql://db/shop',
      DATABASE_REPLICA_URLS: 'postgres://r1/shop, postgres://r2/shop,',
      REDIS_URL: 'rediss://cache:6380',
      LOG_LEVEL: 'debug',
      CURRENCY: 'EUR',
      DEMO_DATA: 'yes',
      LOW_STOCK_THRESHOLD: '0',
      GRAPHQL_MAX_COST: '50',
      ADMIN_EMAIL: 'root@shop.test',
      ADMIN_PASSWORD: 'long-enough',
    });
    expect(c).toMatchObject({
      port: 8080,
      paymentWindowSeconds: 10,
      databaseUrl: 'postgresql://db/shop',
      databaseReplicaUrls: ['postgres://r1/shop', 'postgres://r2/shop'],
      redisUrl: 'rediss://cache:6380',
      logLevel: 'debug',
      currency: 'EUR',
      demoData: true,
      lowStockThreshold: 0,
      limits: { maxDepth: 10, maxAliases: 15, maxCost: 50, maxPageSize: 100 },
      adminEmail: 'root@shop.test',
      adminPassword: 'long-enough',
    });
  });

  test('production without PAYMENT_PROVIDER_URL is refused: the sandbox provider is for development', () => {
    const e = failure({
      DATA_DIR: tempDir(),
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/shop',
      ...SECRETS,
    });
    expect(e.message).toMatch(
      /^Invalid configuration: PAYMENT_PROVIDER_URL is required when NODE_ENV=production/,
    );
  });

  test('production with everything set is accepted and hides SQL statistics', () => {
    const dir = tempDir();
    const c = loadConfig({
      DATA_DIR: dir,
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/shop',
      PAYMENT_PROVIDER_URL: 'https://provider.example.com',
      METRICS_TOKEN: 'metrics-token-0123456789',
      ...SECRETS,
    });
    expect(c).toMatchObject({
      production: true,
      jwtSecret: SECRETS.JWT_SECRET,
      exposeSqlStats: false,
      demoData: false,
    });
    expect(existsSync(join(dir, 'secrets.json'))).toBe(false);
  });
});

describe('each bad variable is a ConfigError naming it', () => {
  test.each([
    [{ PORT: 'abc' }, 'PORT', 'Invalid configuration: PORT must be an integer, got "abc"'],
    [{ PORT: '8080.5' }, 'PORT', 'Invalid configuration: PORT must be an integer, got "8080.5"'],
    [{ PORT: '70000' }, 'PORT', 'Invalid configuration: PORT must be between 0 and 65535, got 70000'],
    [{ PORT: '-1' }, 'PORT', 'Invalid configuration: PORT must be between 0 and 65535, got -1'],
    [
      { PAYMENT_WINDOW_SECONDS: 'soon' },
      'PAYMENT_WINDOW_SECONDS',
      'Invalid configuration: PAYMENT_WINDOW_SECONDS must be an integer, got "soon"',
    ],
    [
      { DATABASE_URL: 'http://x' },
      'DATABASE_URL',
      'Invalid configuration: DATABASE_URL must use postgres: or postgresql:, got http:',
    ],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', 'Invalid configuration: DATABASE_URL is not a valid URL'],
    [
      { DATABASE_REPLICA_URLS: 'postgres://r1/db,mysql://r2/db' },
      'DATABASE_REPLICA_URLS[1]',
      'Invalid configuration: DATABASE_REPLICA_URLS[1] must use postgres: or postgresql:, got mysql:',
    ],
    [
      { REDIS_URL: 'http://cache' },
      'REDIS_URL',
      'Invalid configuration: REDIS_URL must use redis:, rediss:, redis-cluster: or rediss-cluster:, got http:',
    ],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL',
      'Invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    ],
    [{ CURRENCY: 'usd' }, 'CURRENCY', 'Invalid configuration: CURRENCY must be an ISO 4217 code such as USD'],
    [
      { CURRENCY: 'USDT' },
      'CURRENCY',
      'Invalid configuration: CURRENCY must be an ISO 4217 code such as USD',
    ],
    [{ ADMIN_EMAIL: 'admin' }, 'ADMIN_EMAIL', 'Invalid configuration: ADMIN_EMAIL is not an email address'],
    [
      { ADMIN_PASSWORD: 'short' },
      'ADMIN_PASSWORD',
      'Invalid configuration: ADMIN_PASSWORD must be at least 8 characters',
    ],
    [
      { JWT_SECRET: 'too-short' },
      'JWT_SECRET',
      'Invalid configuration: JWT_SECRET must be at least 16 characters',
    ],
    [
      { DEMO_DATA: 'maybe' },
      'DEMO_DATA',
      'Invalid configuration: DEMO_DATA must be true or false, got "maybe"',
    ],
    [
      { GRAPHQL_MAX_COST: '5' },
      'GRAPHQL_MAX_COST',
      'Invalid configuration: GRAPHQL_MAX_COST must be between 10 and 100000000, got 5',
    ],
    [
      { DB_POOL_SIZE: '0' },
      'DB_POOL_SIZE',
      'Invalid configuration: DB_POOL_SIZE must be between 1 and 200, got 0',
    ],
  ])('%o', (env, variable, message) => {
    const e = failure(env as Record<string, string>);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain(variable);
    expect(e.message).toBe(message);
  });

  test.each(['0', '604801'])('PAYMENT_WINDOW_SECONDS=%s is out of range', (value) => {
    const e = failure({ PAYMENT_WINDOW_SECONDS: value });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(
      new RegExp(
        `^Invalid configuration: PAYMENT_WINDOW_SECONDS must be between \\d+ and 604800, got ${value}$`,
      ),
    );
  });

  test('NODE_ENV=production without DATABASE_URL names DATABASE_URL', () => {
    const e = failure({ NODE_ENV: 'production', ...SECRETS });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe('Invalid configuration: DATABASE_URL is required when NODE_ENV=production');
  });

  test.each(['JWT_SECRET', 'PAYMENT_WEBHOOK_SECRET', 'LOGISTICS_WEBHOOK_SECRET'])(
    'NODE_ENV=production without %s names it and generates nothing',
    (name) => {
      const dir = tempDir();
      const env: Record<string, string> = {
        DATA_DIR: dir,
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/shop',
        ...SECRETS,
      };
      delete env[name];
      let error: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toBe(
        `Invalid configuration: ${name} is required when NODE_ENV=production`,
      );
      expect(existsSync(join(dir, 'secrets.json'))).toBe(false);
    },
  );
});

describe('generated secrets', () => {
  test('unset secrets are generated once, stored in DATA_DIR/secrets.json and reused', () => {
    const dir = join(tempDir(), 'nested', 'data');
    const first = loadConfig({ DATA_DIR: dir });
    const file = join(dir, 'secrets.json');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const stored = JSON.parse(readFileSync(file, 'utf8'));
    expect(stored).toEqual({
      JWT_SECRET: first.jwtSecret,
      PAYMENT_WEBHOOK_SECRET: first.paymentWebhookSecret,
      LOGISTICS_WEBHOOK_SECRET: first.logisticsWebhookSecret,
      PAYMENT_PROVIDER_API_KEY: first.paymentProviderApiKey,
    });
    for (const s of [first.jwtSecret, first.paymentWebhookSecret, first.logisticsWebhookSecret])
      expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set([first.jwtSecret, first.paymentWebhookSecret, first.logisticsWebhookSecret]).size).toBe(3);

    const second = loadConfig({ DATA_DIR: dir });
    expect([second.jwtSecret, second.paymentWebhookSecret, second.logisticsWebhookSecret]).toEqual([
      first.jwtSecret,
      first.paymentWebhookSecret,
      first.logisticsWebhookSecret,
    ]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(stored);
  });

  test('another DATA_DIR gets other secrets', () => {
    const a = loadConfig({ DATA_DIR: tempDir() });
    const b = loadConfig({ DATA_DIR: tempDir() });
    expect(a.jwtSecret).not.toBe(b.jwtSecret);
  });

  test('a secret that is set wins and is not written; only the missing ones are generated', () => {
    const dir = tempDir();
    const c = loadConfig({ DATA_DIR: dir, JWT_SECRET: SECRETS.JWT_SECRET });
    expect(c.jwtSecret).toBe(SECRETS.JWT_SECRET);
    const stored = JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8'));
    expect(Object.keys(stored).sort()).toEqual([
      'LOGISTICS_WEBHOOK_SECRET',
      'PAYMENT_PROVIDER_API_KEY',
      'PAYMENT_WEBHOOK_SECRET',
    ]);
    expect(JSON.stringify(stored)).not.toContain(SECRETS.JWT_SECRET);
  });

  test('a value already in secrets.json is kept when another is added', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ JWT_SECRET: 'kept-from-last-run-0123456789' }));
    const c = loadConfig({ DATA_DIR: dir });
    expect(c.jwtSecret).toBe('kept-from-last-run-0123456789');
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')).JWT_SECRET).toBe(
      'kept-from-last-run-0123456789',
    );
  });
});

describe('fulfillment settings', () => {
  test('defaults: auto-completion 7 days after delivery, one point per whole currency unit', () => {
    const c = loadConfig({ DATA_DIR: tempDir() });
    expect(c.orderAutoCompleteSeconds).toBe(7 * 24 * 3600);
    expect(c.points.perCurrencyUnit).toBe(1);
  });

  test('ORDER_AUTO_COMPLETE_SECONDS and POINTS_PER_CURRENCY_UNIT are read (0 points turns awards off)', () => {
    const c = loadConfig({
      DATA_DIR: tempDir(),
      ORDER_AUTO_COMPLETE_SECONDS: ' 2 ',
      POINTS_PER_CURRENCY_UNIT: '0',
    });
    expect(c.orderAutoCompleteSeconds).toBe(2);
    expect(c.points.perCurrencyUnit).toBe(0);
  });

  test.each([
    [
      { ORDER_AUTO_COMPLETE_SECONDS: '0' },
      'Invalid configuration: ORDER_AUTO_COMPLETE_SECONDS must be between 1 and 31536000, got 0',
    ],
    [
      { ORDER_AUTO_COMPLETE_SECONDS: '1.5' },
      'Invalid configuration: ORDER_AUTO_COMPLETE_SECONDS must be an integer, got "1.5"',
    ],
    [
      { ORDER_AUTO_COMPLETE_SECONDS: '7d' },
      'Invalid configuration: ORDER_AUTO_COMPLETE_SECONDS must be an integer, got "7d"',
    ],
    [
      { ORDER_AUTO_COMPLETE_SECONDS: '31536001' },
      'Invalid configuration: ORDER_AUTO_COMPLETE_SECONDS must be between 1 and 31536000, got 31536001',
    ],
    [
      { POINTS_PER_CURRENCY_UNIT: '-1' },
      'Invalid configuration: POINTS_PER_CURRENCY_UNIT must be between 0 and 1000, got -1',
    ],
    [
      { POINTS_PER_CURRENCY_UNIT: 'lots' },
      'Invalid configuration: POINTS_PER_CURRENCY_UNIT must be an integer, got "lots"',
    ],
  ])('%o', (env, message) => {
    const e = failure(env as Record<string, string>);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe(message);
  });
});

describe('after-sale settings', () => {
  test('defaults: 24 hours to review a request, 14 days after delivery to make one', () => {
    const c = loadConfig({ DATA_DIR: tempDir() });
    expect(c.afterSale).toEqual({ reviewSeconds: 24 * 3600, windowDays: 14 });
  });

  test('AFTER_SALE_REVIEW_HOURS and AFTER_SALE_WINDOW_DAYS are read; AFTER_SALE_REVIEW_SECONDS wins over hours', () => {
    expect(
      loadConfig({ DATA_DIR: tempDir(), AFTER_SALE_REVIEW_HOURS: ' 48 ', AFTER_SALE_WINDOW_DAYS: '7' })
        .afterSale,
    ).toEqual({
      reviewSeconds: 48 * 3600,
      windowDays: 7,
    });
    expect(
      loadConfig({ DATA_DIR: tempDir(), AFTER_SALE_REVIEW_HOURS: '48', AFTER_SALE_REVIEW_SECONDS: '2' })
        .afterSale.reviewSeconds,
    ).toBe(2);
  });

  test.each([
    [
      { AFTER_SALE_REVIEW_HOURS: '0' },
      'Invalid configuration: AFTER_SALE_REVIEW_HOURS must be between 1 and 720, got 0',
    ],
    [
      { AFTER_SALE_REVIEW_HOURS: '1.5' },
      'Invalid configuration: AFTER_SALE_REVIEW_HOURS must be an integer, got "1.5"',
    ],
    [
      { AFTER_SALE_REVIEW_HOURS: '721' },
      'Invalid configuration: AFTER_SALE_REVIEW_HOURS must be between 1 and 720, got 721',
    ],
    // a bad value is refused even when the seconds override it
    [
      { AFTER_SALE_REVIEW_HOURS: 'soon', AFTER_SALE_REVIEW_SECONDS: '5' },
      'Invalid configuration: AFTER_SALE_REVIEW_HOURS must be an integer, got "soon"',
    ],
    [
      { AFTER_SALE_REVIEW_SECONDS: '0' },
      'Invalid configuration: AFTER_SALE_REVIEW_SECONDS must be between 1 and 2592000, got 0',
    ],
    [
      { AFTER_SALE_REVIEW_SECONDS: '2h' },
      'Invalid configuration: AFTER_SALE_REVIEW_SECONDS must be an integer, got "2h"',
    ],
    [
      { AFTER_SALE_WINDOW_DAYS: '0' },
      'Invalid configuration: AFTER_SALE_WINDOW_DAYS must be between 1 and 365, got 0',
    ],
    [
      { AFTER_SALE_WINDOW_DAYS: 'two weeks' },
      'Invalid configuration: AFTER_SALE_WINDOW_DAYS must be an integer, got "two weeks"',
    ],
  ])('%o', (env, message) => {
    const e = failure(env as Record<string, string>);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toBe(message);
  });
});
