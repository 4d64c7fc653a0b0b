import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Every environment variable the server reads, parsed and validated in one place.
 * Nothing else in the code base reads `process.env`.
 */
export interface Config {
  nodeEnv: string;
  production: boolean;
  port: number;
  /** Unset: the embedded PostgreSQL in `dataDir` is started. */
  databaseUrl?: string;
  databaseReplicaUrls: string[];
  redisUrl?: string;
  dataDir: string;
  adminEmail: string;
  /** Unset in the embedded default: a generated password is printed once. */
  adminPassword?: string;
  jwtSecret: string;
  tokenTtlSeconds: number;
  paymentWebhookSecret: string;
  logisticsWebhookSecret: string;
  paymentWindowSeconds: number;
  /** The card provider; unset: the sandbox provider is started as a child process. */
  paymentProviderUrl?: string;
  paymentProviderApiKey: string;
  /** This server's public base URL (provider callbacks, the shopper's return); default http://127.0.0.1:PORT. */
  publicUrl?: string;
  /** Platform fee on every sale, in basis points. */
  platformFeeBps: number;
  /** Card payments still pending after this long are asked about at the provider. */
  paymentPollAfterSeconds: number;
  logLevel: string;
  currency: string;
  lowStockThreshold: number;
  /** Load the demo catalog into an empty database at start. */
  demoData: boolean;
  dbPoolSize: number;
  cart: { maxLineQuantity: number; maxLines: number; anonymousTtlDays: number };
  /**
   * Loyalty points: value of one point in minor units, the largest share of a total they may pay,
   * and how many are awarded per whole currency unit of what an order kept when it completes.
   */
  points: { valueMinor: number; maxShareBps: number; perCurrencyUnit: number };
  /** A delivered order completes (escrow released, points awarded) this long after delivery unless the buyer confirms first. */
  orderAutoCompleteSeconds: number;
  /** Flat shipping fee per merchant order, free from `freeAbove` (goods after discounts). */
  shipping: { flatFee: number; freeAbove: number | null };
  idempotencyTtlHours: number;
  jobPollSeconds: number;
  /** How long the list of promotions is reused (0: read on every pricing). */
  promotionCacheTtlMs: number;
  /** How long search pages, counts and facets are reused (0: never). Catalog writes clear it. */
  searchCacheTtlMs: number;
  limits: { maxDepth: number; maxAliases: number; maxCost: number; maxPageSize: number };
  /** Report SQL statements per request in `extensions.sqlStatements` (tests and benchmarks). */
  exposeSqlStats: boolean;
  /**
   * After-sale: how long the merchant has to review a request before it is approved automatically
   * (AFTER_SALE_REVIEW_HOURS, or AFTER_SALE_REVIEW_SECONDS when set, which wins), and for how many
   * days after delivery a request may be made (AFTER_SALE_WINDOW_DAYS).
   */
  afterSale: { reviewSeconds: number; windowDays: number };
  /** The outbox relay's backstop poll (NOTIFY wakes it at once); also how soon a new relay takes over. */
  eventRelayPollMs: number;
  /**
   * Flash sales: the payment window of a flash-sale order (FLASH_SALE_PAYMENT_WINDOW_SECONDS), the
   * waiting list beyond the sale's units in percent of them (FLASH_SALE_WAITLIST_PERCENT: entries
   * past it are sold out at once), entries turned into orders per transaction
   * (FLASH_SALE_BATCH_SIZE), how often an idle worker looks for work (FLASH_SALE_WORKER_INTERVAL_MS),
   * whether this process runs a worker (FLASH_SALE_WORKER), and the prefix of its Redis keys
   * (FLASH_SALE_REDIS_PREFIX: deployments sharing one Redis use different ones).
   */
  flashSale: {
    paymentWindowSeconds: number;
    waitlistPercent: number;
    batchSize: number;
    workerIntervalMs: number;
    worker: boolean;
    redisPrefix: string;
  };
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/** A decimal amount such as "4.99" in minor units; "" or "none" means unset. */
function amount(env: Env, name: string, fallback: string): number | null {
  const raw = env[name] === undefined ? fallback : (env[name] ?? '').trim();
  if (raw === '' || raw === 'none') return null;
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(raw);
  if (!m) throw new ConfigError(name, `must be an amount such as "4.99", got "${raw}"`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

/**
 * Secrets that are unset are generated once and kept in DATA_DIR, so tokens and webhook signatures
 * stay valid across restarts of the embedded default. Production must set them explicitly.
 */
function secret(env: Env, name: string, production: boolean, dataDir: string): string {
  const raw = str(env, name);
  if (raw !== undefined) {
    if (raw.length < 16) throw new ConfigError(name, 'must be at least 16 characters');
    return raw;
  }
  if (production) throw new ConfigError(name, 'is required when NODE_ENV=production');
  const file = join(dataDir, 'secrets.json');
  const stored: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (!stored[name]) {
    stored[name] = randomBytes(32).toString('hex');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  return stored[name];
}

function flashSalePrefix(raw: string): string {
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(raw))
    throw new ConfigError('FLASH_SALE_REDIS_PREFIX', 'must be 1-40 letters, digits, "_", "." or "-"');
  return raw;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, 'NODE_ENV') ?? 'development';
  const production = nodeEnv === 'production';
  const dataDir = resolve(str(env, 'DATA_DIR') ?? '.data');
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const replicas = (str(env, 'DATABASE_REPLICA_URLS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  replicas.forEach((r, i) =>
    url({ [`DATABASE_REPLICA_URLS[${i}]`]: r }, `DATABASE_REPLICA_URLS[${i}]`, ['postgres:', 'postgresql:']),
  );
  if (production && !databaseUrl)
    throw new ConfigError('DATABASE_URL', 'is required when NODE_ENV=production');
  const paymentProviderUrl = url(env, 'PAYMENT_PROVIDER_URL', ['http:', 'https:']);

  const adminEmail = str(env, 'ADMIN_EMAIL') ?? 'admin@example.com';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(adminEmail))
    throw new ConfigError('ADMIN_EMAIL', 'is not an email address');
  const adminPassword = str(env, 'ADMIN_PASSWORD');
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('ADMIN_PASSWORD', 'must be at least 8 characters');
  }
  const currency = str(env, 'CURRENCY') ?? 'USD';
  if (!/^[A-Z]{3}$/.test(currency)) throw new ConfigError('CURRENCY', 'must be an ISO 4217 code such as USD');
  const logLevel = str(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'warn' : 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent`);
  }

  const config: Config = {
    nodeEnv,
    production,
    port: int(env, 'PORT', 4000, 0, 65535),
    databaseUrl,
    databaseReplicaUrls: replicas,
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    dataDir,
    adminEmail,
    adminPassword,
    jwtSecret: secret(env, 'JWT_SECRET', production, dataDir),
    tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', 7 * 24 * 3600, 60, 90 * 24 * 3600),
    paymentWebhookSecret: secret(env, 'PAYMENT_WEBHOOK_SECRET', production, dataDir),
    logisticsWebhookSecret: secret(env, 'LOGISTICS_WEBHOOK_SECRET', production, dataDir),
    paymentWindowSeconds: int(env, 'PAYMENT_WINDOW_SECONDS', 1800, 1, 7 * 24 * 3600),
    paymentProviderUrl,
    paymentProviderApiKey: secret(env, 'PAYMENT_PROVIDER_API_KEY', production, dataDir),
    publicUrl: url(env, 'PUBLIC_URL', ['http:', 'https:'])?.replace(/\/+$/, ''),
    platformFeeBps: int(env, 'PLATFORM_FEE_BPS', 500, 0, 5000),
    paymentPollAfterSeconds: int(env, 'PAYMENT_POLL_AFTER_SECONDS', 60, 1, 3600),
    logLevel,
    currency,
    lowStockThreshold: int(env, 'LOW_STOCK_THRESHOLD', 5, 0, 1_000_000),
    demoData: bool(env, 'DEMO_DATA', !databaseUrl),
    dbPoolSize: int(env, 'DB_POOL_SIZE', 10, 1, 200),
    cart: {
      maxLineQuantity: int(env, 'CART_MAX_LINE_QUANTITY', 99, 1, 10_000),
      maxLines: int(env, 'CART_MAX_LINES', 100, 1, 1000),
      anonymousTtlDays: int(env, 'ANONYMOUS_CART_TTL_DAYS', 30, 1, 3650),
    },
    points: {
      valueMinor: int(env, 'POINT_VALUE_MINOR', 1, 1, 1_000_000),
      maxShareBps: int(env, 'POINTS_MAX_SHARE_PERCENT', 50, 0, 100) * 100,
      perCurrencyUnit: int(env, 'POINTS_PER_CURRENCY_UNIT', 1, 0, 1000),
    },
    orderAutoCompleteSeconds: int(env, 'ORDER_AUTO_COMPLETE_SECONDS', 7 * 24 * 3600, 1, 365 * 24 * 3600),
    shipping: {
      flatFee: amount(env, 'SHIPPING_FEE', '4.99')!,
      freeAbove: amount(env, 'FREE_SHIPPING_ABOVE', '50.00'),
    },
    idempotencyTtlHours: int(env, 'IDEMPOTENCY_TTL_HOURS', 48, 24, 24 * 365),
    jobPollSeconds: int(env, 'JOB_POLL_SECONDS', 1, 1, 60),
    promotionCacheTtlMs: int(env, 'PROMOTION_CACHE_TTL_MS', 5000, 0, 600_000),
    searchCacheTtlMs: int(env, 'SEARCH_CACHE_TTL_MS', 5000, 0, 3_600_000),
    limits: {
      maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 10, 2, 100),
      maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 1000),
      maxCost: int(env, 'GRAPHQL_MAX_COST', 5000, 10, 1_000_000),
      maxPageSize: int(env, 'MAX_PAGE_SIZE', 100, 1, 1000),
    },
    exposeSqlStats: bool(env, 'EXPOSE_SQL_STATS', !production),
    afterSale: {
      // Both are validated; the seconds (for tests and demos) win when set.
      reviewSeconds: int(
        env,
        'AFTER_SALE_REVIEW_SECONDS',
        int(env, 'AFTER_SALE_REVIEW_HOURS', 24, 1, 30 * 24) * 3600,
        1,
        30 * 24 * 3600,
      ),
      windowDays: int(env, 'AFTER_SALE_WINDOW_DAYS', 14, 1, 365),
    },
    eventRelayPollMs: int(env, 'EVENT_RELAY_POLL_MS', 1000, 50, 60_000),
    flashSale: {
      paymentWindowSeconds: int(env, 'FLASH_SALE_PAYMENT_WINDOW_SECONDS', 300, 1, 24 * 3600),
      waitlistPercent: int(env, 'FLASH_SALE_WAITLIST_PERCENT', 100, 0, 10_000),
      batchSize: int(env, 'FLASH_SALE_BATCH_SIZE', 200, 1, 5000),
      workerIntervalMs: int(env, 'FLASH_SALE_WORKER_INTERVAL_MS', 100, 5, 60_000),
      worker: bool(env, 'FLASH_SALE_WORKER', true),
      redisPrefix: flashSalePrefix(str(env, 'FLASH_SALE_REDIS_PREFIX') ?? 'fs'),
    },
  };
  // Checked after the secrets, so a missing secret is named first.
  if (production && !paymentProviderUrl) {
    throw new ConfigError(
      'PAYMENT_PROVIDER_URL',
      'is required when NODE_ENV=production (the sandbox provider is for development)',
    );
  }
  return config;
}
