import { resolve } from 'node:path';
import { type DbTimeouts, dbTimeouts } from './db';
import {
  type EdgeConfig,
  edgeConfig,
  storefrontOrigins,
  trustedDocuments,
  type TrustedDocumentsConfig,
} from './edge';
import { type ArchiveConfig, archiveConfig, flashSalePrefix, type WebhookConfig } from './orders';
import { amount, bool, ConfigError, decimal, type Env, int, redisUrl, secret, str, url } from './parse';
import {
  type ProtectionConfig,
  protectionConfig,
  type SecurityConfig,
  securityConfig,
  type SignupConfig,
  signupConfig,
} from './security';

export { type DbTimeouts, dbTimeouts } from './db';
export type { EdgeConfig, TrustedDocumentsConfig } from './edge';
export type { ArchiveConfig, WebhookConfig } from './orders';
export { ConfigError } from './parse';
export {
  type ProtectionConfig,
  requireMailTransport,
  requirePaymentProvider,
  type SecurityConfig,
  type SignupConfig,
} from './security';

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
  /**
   * DB_PREPARED_STATEMENTS (true): the money path's hot statements are named prepared statements,
   * planned once per connection. false behind a pooler that cannot keep them (PgBouncer in
   * transaction mode before 1.21, or without max_prepared_statements).
   */
  dbPreparedStatements: boolean;
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
   * Operations: how soon every process follows a runtime switch change
   * (SWITCH_REFRESH_SECONDS); how often the sales rollup folds in new order events
   * (SALES_ROLLUP_INTERVAL_MS; figures include the rest either way); after how many days a paid,
   * unshipped order is reported (OPS_UNSHIPPED_DAYS).
   */
  ops: { switchRefreshSeconds: number; salesRollupIntervalMs: number; unshippedDays: number };
  /**
   * Seller-side store (docs/seller-store.md): the backstop interval of its outbox consumer
   * (SELLER_STORE_INTERVAL_MS; published events wake it at once) and how long a merchant list
   * waits for the store to contain the shop's committed events before it reads the source
   * instead (SELLER_STORE_READ_WAIT_MS).
   */
  sellerStore: { intervalMs: number; readWaitMs: number };
  /**
   * Hot and cold orders (docs/archive.md): finished orders whose last change is older than
   * ARCHIVE_AFTER_DAYS (90; 0 turns archiving off; ARCHIVE_AFTER_SECONDS wins when set, for tests)
   * move to the archive schema, ARCHIVE_BATCH_SIZE (500) orders per transaction, with a pause of
   * ARCHIVE_BATCH_PAUSE_MS (0) between batches to leave the database to checkouts.
   */
  archive: ArchiveConfig;
  /** Outbound webhooks (docs/webhooks.md). */
  webhooks: WebhookConfig;
  /**
   * TRUSTED_DOCUMENTS=enforce: every caller runs only documents of the manifest at
   * TRUSTED_DOCUMENTS_MANIFEST (`{ "sha256:<hex>": "<document>" }`, graphql-codegen's format);
   * partners run only their registered documents in any mode. Unset or `off`: any document, and
   * the manifest's (when given) may be sent by id. APQ entries live APQ_TTL_SECONDS.
   */
  trustedDocuments: TrustedDocumentsConfig;
  /** Traffic protection (docs/security.md): execution deadline, rate limits, sign-in lockout, hashing pool. */
  protection: ProtectionConfig;
  /** The HTTP edge (docs/http.md): CORS, body and time limits, WebSocket caps, who may read /metrics. */
  edge: EdgeConfig;
  /** Every PostgreSQL client of the server (pool, relay, jobs) waits at most this long (docs/faults.md). */
  dbTimeouts: DbTimeouts;
  /**
   * GET /readyz answers within `timeoutMs`; 503 when more than `maxPoolWaiting` requests wait for a
   * connection. Outages answer 503 with `Retry-After: retryAfterSeconds` (SERVICE_UNAVAILABLE).
   */
  readiness: { timeoutMs: number; maxPoolWaiting: number; retryAfterSeconds: number };
  /**
   * Where a card payment may send the shopper back (paymentStart's returnUrl): exact web origins
   * ("https://shop.example.com") and app-link schemes ("myapp://"). STOREFRONT_ORIGINS, else
   * CORS_ORIGINS; "*" (any http(s) origin) only outside production.
   */
  storefrontOrigins: string[];
  /**
   * Product pages, the category tree and availability levels: fresh for `ttlMs` (0: no cache),
   * then served stale for `staleMs` more while one refresh runs; `maxEntries` bounds the memory
   * store (without REDIS_URL). CATALOG_CACHE_TTL_MS, CATALOG_CACHE_STALE_MS, CATALOG_CACHE_MAX_ENTRIES.
   */
  catalogCache: { ttlMs: number; staleMs: number; maxEntries: number };
  /**
   * `Cache-Control: public, max-age=<publicMaxAgeSeconds>` on anonymous GETs of catalog-only
   * queries (a CDN may serve them); 0 turns public caching off (everything is no-store).
   * HTTP_PUBLIC_MAX_AGE_SECONDS, 30.
   */
  httpCache: { publicMaxAgeSeconds: number };
  /**
   * Replicas with read-your-writes (docs/replicas.md): a replica staler than
   * REPLICA_MAX_LAG_MS is not read; a client that just wrote waits up to REPLICA_WAIT_MS for a
   * replica that has its write, else reads the primary; replicas are probed every REPLICA_PROBE_MS;
   * without Redis each process remembers the writes of up to REPLICA_RYW_MAX_CLIENTS clients.
   */
  replicas: { maxLagMs: number; waitMs: number; probeMs: number; memoryClients: number };
  /** Accounts, tokens, checkout caps and the payment provider's kind (docs/security.md). */
  security: SecurityConfig;
  /** Sign-up verification by mail and the mail it sends (docs/accounts.md). */
  signup: SignupConfig;
  /**
   * Flash sales: the payment window of a flash-sale order (FLASH_SALE_PAYMENT_WINDOW_SECONDS), the
   * waiting list beyond the sale's units in percent of them (FLASH_SALE_WAITLIST_PERCENT: entries
   * past it are sold out at once), entries turned into orders per transaction
   * (FLASH_SALE_BATCH_SIZE), how often an idle worker looks for work (FLASH_SALE_WORKER_INTERVAL_MS),
   * whether this process runs a worker (FLASH_SALE_WORKER), and the prefix of its Redis keys
   * (FLASH_SALE_REDIS_PREFIX: deployments sharing one Redis use different ones), and how long an
   * accepted shopper waits for news that its entry reached PostgreSQL before looking itself
   * (FLASH_SALE_ACCEPT_WAIT_MS; docs/flash-sales.md).
   */
  flashSale: {
    paymentWindowSeconds: number;
    waitlistPercent: number;
    batchSize: number;
    workerIntervalMs: number;
    worker: boolean;
    redisPrefix: string;
    acceptWaitMs: number;
  };
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
    redisUrl: redisUrl(env),
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
    dbPreparedStatements: bool(env, 'DB_PREPARED_STATEMENTS', true),
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
      maxCost: int(env, 'GRAPHQL_MAX_COST', 25_000, 10, 100_000_000),
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
    ops: {
      switchRefreshSeconds: int(env, 'SWITCH_REFRESH_SECONDS', 5, 1, 300),
      salesRollupIntervalMs: int(env, 'SALES_ROLLUP_INTERVAL_MS', 2000, 100, 3_600_000),
      unshippedDays: int(env, 'OPS_UNSHIPPED_DAYS', 3, 1, 365),
    },
    sellerStore: {
      intervalMs: int(env, 'SELLER_STORE_INTERVAL_MS', 1000, 50, 3_600_000),
      readWaitMs: int(env, 'SELLER_STORE_READ_WAIT_MS', 1000, 0, 30_000),
    },
    archive: archiveConfig(env),
    // Outbound webhooks. Defaults: retries after ~10 s, 20 s, 40 s … (at most 1 h apart), DEAD
    // after 12 attempts (about 3.5 hours after the first).
    webhooks: {
      retryBaseSeconds: decimal(env, 'WEBHOOK_RETRY_BASE_SECONDS', 10, 0.01, 3600),
      retryMaxSeconds: decimal(env, 'WEBHOOK_RETRY_MAX_SECONDS', 3600, 0.01, 7 * 24 * 3600),
      maxAttempts: int(env, 'WEBHOOK_MAX_ATTEMPTS', 12, 1, 100),
      timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
      concurrency: int(env, 'WEBHOOK_CONCURRENCY', 32, 1, 1000),
      endpointConcurrency: int(env, 'WEBHOOK_ENDPOINT_CONCURRENCY', 4, 1, 100),
      pollMs: int(env, 'WEBHOOK_POLL_MS', 1000, 20, 60_000),
      publicUrlsOnly: production,
    },
    trustedDocuments: trustedDocuments(env),
    protection: protectionConfig(env),
    edge: edgeConfig(env, production),
    // No request waits on the database longer than these (docs/faults.md).
    dbTimeouts: dbTimeouts(env),
    readiness: {
      timeoutMs: int(env, 'READYZ_TIMEOUT_MS', 1500, 100, 10_000),
      maxPoolWaiting: int(
        env,
        'READYZ_MAX_POOL_WAITING',
        2 * int(env, 'DB_POOL_SIZE', 10, 1, 200),
        0,
        100_000,
      ),
      retryAfterSeconds: int(env, 'SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS', 2, 1, 3600),
    },
    storefrontOrigins: storefrontOrigins(env, production),
    catalogCache: {
      ttlMs: int(env, 'CATALOG_CACHE_TTL_MS', 30_000, 0, 3_600_000),
      staleMs: int(env, 'CATALOG_CACHE_STALE_MS', 300_000, 0, 86_400_000),
      maxEntries: int(env, 'CATALOG_CACHE_MAX_ENTRIES', 20_000, 100, 10_000_000),
    },
    httpCache: { publicMaxAgeSeconds: int(env, 'HTTP_PUBLIC_MAX_AGE_SECONDS', 30, 0, 86_400) },
    replicas: {
      maxLagMs: int(env, 'REPLICA_MAX_LAG_MS', 5_000, 0, 3_600_000),
      waitMs: int(env, 'REPLICA_WAIT_MS', 50, 0, 10_000),
      probeMs: int(env, 'REPLICA_PROBE_MS', 500, 20, 60_000),
      memoryClients: int(env, 'REPLICA_RYW_MAX_CLIENTS', 100_000, 100, 10_000_000),
    },
    // Checked after the secrets, so a missing secret is named first
    security: securityConfig(env, production, databaseUrl, paymentProviderUrl),
    signup: signupConfig(env, production),
    flashSale: {
      paymentWindowSeconds: int(env, 'FLASH_SALE_PAYMENT_WINDOW_SECONDS', 300, 1, 24 * 3600),
      waitlistPercent: int(env, 'FLASH_SALE_WAITLIST_PERCENT', 100, 0, 10_000),
      batchSize: int(env, 'FLASH_SALE_BATCH_SIZE', 200, 1, 5000),
      workerIntervalMs: int(env, 'FLASH_SALE_WORKER_INTERVAL_MS', 100, 5, 60_000),
      worker: bool(env, 'FLASH_SALE_WORKER', true),
      redisPrefix: flashSalePrefix(str(env, 'FLASH_SALE_REDIS_PREFIX') ?? 'fs'),
      acceptWaitMs: int(env, 'FLASH_SALE_ACCEPT_WAIT_MS', 1000, 50, 60_000),
    },
  };
  // Checked after the secrets, so a missing secret is named first.
  if (production && !paymentProviderUrl) {
    throw new ConfigError(
      'PAYMENT_PROVIDER_URL',
      'is required when NODE_ENV=production (the sandbox provider is for development)',
    );
  }
  // The edge (docs/http.md): a public /metrics tells anyone the traffic and the operation names.
  if (production && !config.edge.metrics.token && config.edge.metrics.port === undefined) {
    throw new ConfigError('METRICS_TOKEN', 'or METRICS_PORT is required when NODE_ENV=production');
  }
  return config;
}

/**
 * Tracing, read by src/tracing.ts before anything else loads: on only when an OTLP
 * endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the standard
 * OpenTelemetry variables, which the exporter itself reads too) and OTEL_SDK_DISABLED is not true.
 */
export function loadTracingConfig(env: Env = process.env): { enabled: boolean; serviceName: string } {
  const endpoint =
    url(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', ['http:', 'https:']) ??
    url(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']);
  return {
    enabled: !!endpoint && !bool(env, 'OTEL_SDK_DISABLED', false),
    serviceName: str(env, 'OTEL_SERVICE_NAME') ?? 'commerce-graphql',
  };
}
