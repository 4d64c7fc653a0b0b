import proxyAddr from '@fastify/proxy-addr';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseRedisUrl } from './shared/redis';

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
   * Operations (issue 13): how soon every process follows a runtime switch change
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
   * Hot and cold orders (issue 14, docs/archive.md): finished orders whose last change is older than
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
  trustedDocuments: { enforce: boolean; manifestPath?: string; apqTtlSeconds: number };
  /** Traffic protection (docs/security.md): execution deadline, rate limits, sign-in lockout, hashing pool. */
  protection: ProtectionConfig;
  /** The HTTP edge (docs/http.md): CORS, body and time limits, WebSocket caps, who may read /metrics. */
  edge: EdgeConfig;
  // --- faults (issue 9): timeouts toward PostgreSQL and readiness ---------------------------------
  /** Every PostgreSQL client of the server (pool, relay, jobs) waits at most this long (docs/faults.md). */
  dbTimeouts: DbTimeouts;
  /**
   * GET /readyz answers within `timeoutMs`; 503 when more than `maxPoolWaiting` requests wait for a
   * connection. Outages answer 503 with `Retry-After: retryAfterSeconds` (SERVICE_UNAVAILABLE).
   */
  readiness: { timeoutMs: number; maxPoolWaiting: number; retryAfterSeconds: number };
  // ---- storefront conventions and shared catalog caches (issue 11.2, 13.2)
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
  // ---- HTTP caching of public catalog GETs (issue 11.3, docs/http.md "HTTP caching")
  /**
   * `Cache-Control: public, max-age=<publicMaxAgeSeconds>` on anonymous GETs of catalog-only
   * queries (a CDN may serve them); 0 turns public caching off (everything is no-store).
   * HTTP_PUBLIC_MAX_AGE_SECONDS, 30.
   */
  httpCache: { publicMaxAgeSeconds: number };
  /**
   * Replicas with read-your-writes (issue 14, docs/replicas.md): a replica staler than
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

/** Timeouts toward PostgreSQL, in milliseconds; 0 disables one (docs/faults.md). */
export interface DbTimeouts {
  /** Server side: a statement running longer is cancelled (57014). DB_STATEMENT_TIMEOUT_MS, 10000. */
  statementMs: number;
  /** Server side: waiting longer for a row or table lock fails (55P03). DB_LOCK_TIMEOUT_MS, 5000. */
  lockMs: number;
  /** Server side: a session idle inside a transaction this long is ended. DB_IDLE_IN_TRANSACTION_TIMEOUT_MS, 30000. */
  idleInTransactionMs: number;
  /**
   * Client side: how long to wait for any answer to a query (a frozen or unreachable server, where
   * statement_timeout cannot fire); the connection is then discarded. DB_QUERY_TIMEOUT_MS,
   * statement timeout + 2000.
   */
  queryMs: number;
  /** Opening a connection (TCP and start-up). DB_CONNECT_TIMEOUT_MS, 5000. */
  connectMs: number;
  /** Waiting for a free pooled connection. DB_POOL_ACQUIRE_TIMEOUT_MS, 10000. */
  poolAcquireMs: number;
  /** TCP keep-alive probes start after this much idle time. DB_KEEPALIVE_IDLE_MS, 10000 (0: keep-alive off). */
  keepAliveIdleMs: number;
  /** Statement timeout of migrations and admin scripts (seed). DB_MIGRATION_STATEMENT_TIMEOUT_MS, 0 (none). */
  migrationStatementMs: number;
}

/** The HTTP edge (docs/http.md). */
export interface EdgeConfig {
  /** Browser origins allowed by CORS (CORS_ORIGINS, comma-separated); `*` any origin (refused in production). */
  corsOrigins: string[] | '*';
  /**
   * Proxies whose X-Forwarded-For is believed (TRUST_PROXY: addresses, CIDRs, or loopback /
   * linklocal / uniquelocal), so client addresses (logs, WebSocket caps per IP) are the real ones.
   */
  trustProxy: string[];
  /** Largest request body (HTTP_BODY_LIMIT_BYTES); larger is a 413. */
  bodyLimit: number;
  /** Time to receive the request headers, the whole request (a slow body is cut off), and idle keep-alive. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  ws: {
    maxConnectionsPerIp: number;
    maxConnectionsPerUser: number;
    maxSubscriptionsPerSocket: number;
    /** A socket that has not sent connection_init by then is closed (4408). */
    initTimeoutMs: number;
    maxPayloadBytes: number;
  };
  metrics: {
    /** Bearer token required by GET /metrics (METRICS_TOKEN). */
    token?: string;
    /** Serve /metrics on this port only, not on the API port (METRICS_PORT). */
    port?: number;
    /** Distinct operation names used as labels before the rest are counted as `other`. */
    maxOperationNames: number;
  };
}

/** Edge variables; production must not allow any origin (and must not leave /metrics open: loadConfig). */
function edgeConfig(env: Env, production: boolean): EdgeConfig {
  const origins = (str(env, 'CORS_ORIGINS') ?? '')
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  let corsOrigins: EdgeConfig['corsOrigins'] = origins;
  if (origins.includes('*')) {
    if (production)
      throw new ConfigError('CORS_ORIGINS', 'must list origins when NODE_ENV=production, not *');
    corsOrigins = '*';
  } else {
    origins.forEach((o, i) => {
      const parsed = url({ [`CORS_ORIGINS[${i}]`]: o }, `CORS_ORIGINS[${i}]`, ['http:', 'https:'])!;
      if (new URL(parsed).origin !== o)
        throw new ConfigError(`CORS_ORIGINS[${i}]`, `must be an origin such as https://shop.example.com`);
    });
  }
  const trustProxy = (str(env, 'TRUST_PROXY') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    proxyAddr.compile(trustProxy);
  } catch (e) {
    throw new ConfigError('TRUST_PROXY', `must list addresses or CIDRs: ${(e as Error).message}`);
  }
  const token = str(env, 'METRICS_TOKEN');
  if (token !== undefined && token.length < 16)
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');
  const metricsPort =
    str(env, 'METRICS_PORT') === undefined ? undefined : int(env, 'METRICS_PORT', 0, 0, 65535);
  return {
    corsOrigins,
    trustProxy,
    bodyLimit: int(env, 'HTTP_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    headersTimeoutMs: int(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 120_000),
    requestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    keepAliveTimeoutMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 100, 600_000),
    ws: {
      maxConnectionsPerIp: int(env, 'WS_MAX_CONNECTIONS_PER_IP', 100, 1, 1_000_000),
      maxConnectionsPerUser: int(env, 'WS_MAX_CONNECTIONS_PER_USER', 20, 1, 100_000),
      maxSubscriptionsPerSocket: int(env, 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET', 25, 1, 10_000),
      initTimeoutMs: int(env, 'WS_INIT_TIMEOUT_MS', 5_000, 100, 60_000),
      maxPayloadBytes: int(env, 'WS_MAX_PAYLOAD_BYTES', 128 * 1024, 1024, 16 * 1024 * 1024),
    },
    metrics: {
      token,
      port: metricsPort,
      maxOperationNames: int(env, 'METRICS_MAX_OPERATION_NAMES', 100, 0, 10_000),
    },
  };
}

/** Outbound webhooks: retries, timeouts and how many deliveries run at once. */
export interface WebhookConfig {
  /** The first retry waits about this long (WEBHOOK_RETRY_BASE_SECONDS, fractions allowed); each later one twice as long. */
  retryBaseSeconds: number;
  /** No wait between attempts is longer than this. */
  retryMaxSeconds: number;
  /** After this many failed attempts a delivery is DEAD. */
  maxAttempts: number;
  /** One attempt (connect, send, answer) may take this long. */
  timeoutMs: number;
  /** Deliveries in flight per process, over all endpoints. */
  concurrency: number;
  /** Deliveries in flight per endpoint, over all processes: a slow receiver holds only these. */
  endpointConcurrency: number;
  /** Backstop poll for due retries and for events the pub/sub did not announce. */
  pollMs: number;
  /** Endpoint URLs must be https and resolve only to public addresses (always in production). */
  publicUrlsOnly: boolean;
}

// ---- protection (h3): the variables of docs/security.md ----
export interface ProtectionConfig {
  /** An operation still resolving after this long stops with an error (GRAPHQL_EXECUTION_TIMEOUT_MS). */
  executionTimeoutMs: number;
  /** Operations per minute for an anonymous caller, per IP (RATE_LIMIT_IP_PER_MINUTE). */
  ipPerMinute: number;
  /** Operations per minute for a signed-in user (RATE_LIMIT_USER_PER_MINUTE). */
  userPerMinute: number;
  /** A partner's cost bucket: its size and how many cost points come back per second. */
  partnerCostBucket: number;
  partnerCostRestorePerSecond: number;
  /** Failed sign-ins (per account and IP) before a lockout, and its length. */
  signinMaxFailures: number;
  signinLockoutSeconds: number;
  /** Password hashes computed at once, and how many may wait before sign-ins are refused. */
  passwordHashConcurrency: number;
  passwordHashQueue: number;
  /** Sign-ins and sign-ups one IP may have in flight at once (per process); more are RATE_LIMITED. */
  signinConcurrentPerIp: number;
}

function protectionConfig(env: Env): ProtectionConfig {
  return {
    executionTimeoutMs: int(env, 'GRAPHQL_EXECUTION_TIMEOUT_MS', 10_000, 1, 300_000),
    ipPerMinute: int(env, 'RATE_LIMIT_IP_PER_MINUTE', 300, 1, 10_000_000),
    userPerMinute: int(env, 'RATE_LIMIT_USER_PER_MINUTE', 600, 1, 10_000_000),
    partnerCostBucket: int(env, 'PARTNER_COST_BUCKET', 200_000, 100, 100_000_000),
    partnerCostRestorePerSecond: int(env, 'PARTNER_COST_RESTORE_PER_SECOND', 5_000, 1, 10_000_000),
    signinMaxFailures: int(env, 'SIGNIN_MAX_FAILURES', 5, 1, 1000),
    signinLockoutSeconds: int(env, 'SIGNIN_LOCKOUT_SECONDS', 900, 1, 24 * 3600),
    passwordHashConcurrency: int(env, 'PASSWORD_HASH_CONCURRENCY', 1, 1, 64),
    passwordHashQueue: int(env, 'PASSWORD_HASH_QUEUE', 50, 0, 100_000),
    signinConcurrentPerIp: int(env, 'SIGNIN_CONCURRENT_PER_IP', 2, 1, 100_000),
  };
}
// ---- end protection ----

// ---- security (issue 12, ff-protection): the variables of docs/security.md ----
export interface SecurityConfig {
  /** Checkouts awaiting payment one customer may have at once (CHECKOUT_MAX_UNPAID_PER_CUSTOMER). */
  checkoutMaxUnpaid: number;
  /** Units one customer's unpaid checkouts may hold out of stock (CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER). */
  checkoutMaxHeldUnits: number;
  /** `iss` and `aud` of the tokens this server signs and accepts (JWT_ISSUER, JWT_AUDIENCE). */
  jwtIssuer: string;
  jwtAudience: string;
  /** How long a user's token version and roles are reused before the database is asked again (TOKEN_STATE_CACHE_MS). */
  tokenStateCacheMs: number;
  /** Shortest password accepted at sign-up and password change (PASSWORD_MIN_LENGTH). */
  passwordMinLength: number;
  /**
   * The card provider (PAYMENT_PROVIDER): `http` talks to PAYMENT_PROVIDER_URL; `sandbox` starts the
   * development provider (pays without a card) and is refused in production. Unset: `http` when
   * PAYMENT_PROVIDER_URL is set, `sandbox` for the embedded default (no DATABASE_URL), and null for
   * any other setup: a database of its own never implies the sandbox, and the server refuses to
   * start (`requirePaymentProvider`; scripts such as migrate need no provider).
   */
  paymentProvider: 'http' | 'sandbox' | null;
}

function securityConfig(
  env: Env,
  production: boolean,
  databaseUrl: string | undefined,
  paymentProviderUrl: string | undefined,
): SecurityConfig {
  const kind = str(env, 'PAYMENT_PROVIDER');
  if (kind !== undefined && kind !== 'http' && kind !== 'sandbox')
    throw new ConfigError('PAYMENT_PROVIDER', `must be "http" or "sandbox", got "${kind}"`);
  if (kind === 'sandbox' && production)
    throw new ConfigError(
      'PAYMENT_PROVIDER',
      'cannot be "sandbox" when NODE_ENV=production (it pays without a card)',
    );
  if (kind === 'sandbox' && paymentProviderUrl)
    throw new ConfigError(
      'PAYMENT_PROVIDER',
      'is "sandbox", which starts a provider of its own: unset PAYMENT_PROVIDER_URL',
    );
  if (kind === 'http' && !paymentProviderUrl)
    throw new ConfigError('PAYMENT_PROVIDER_URL', 'is required when PAYMENT_PROVIDER=http');
  const paymentProvider =
    kind ?? (paymentProviderUrl ? 'http' : !databaseUrl && !production ? 'sandbox' : null);
  return {
    checkoutMaxUnpaid: int(env, 'CHECKOUT_MAX_UNPAID_PER_CUSTOMER', 3, 1, 10_000),
    checkoutMaxHeldUnits: int(env, 'CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER', 20, 1, 1_000_000),
    jwtIssuer: str(env, 'JWT_ISSUER') ?? 'commerce-graphql',
    jwtAudience: str(env, 'JWT_AUDIENCE') ?? 'commerce-graphql',
    tokenStateCacheMs: int(env, 'TOKEN_STATE_CACHE_MS', 2000, 0, 60_000),
    passwordMinLength: int(env, 'PASSWORD_MIN_LENGTH', 10, 8, 128),
    paymentProvider,
  };
}

/** The card provider the server runs with; a setup that names none does not start (docs/security.md). */
export function requirePaymentProvider(config: Config): 'http' | 'sandbox' {
  const kind = config.security.paymentProvider;
  if (kind) return kind;
  throw new ConfigError(
    'PAYMENT_PROVIDER',
    'must be chosen with DATABASE_URL: set PAYMENT_PROVIDER_URL (the real provider), or PAYMENT_PROVIDER=sandbox for development (it pays without a card)',
  );
}
// ---- end security ----

// ---- sign-up verification (issue 12, g-signup): the variables of docs/accounts.md ----
export interface SignupConfig {
  /**
   * SIGNUP_VERIFICATION: `email` (signUp answers SignUpPending alike for new and taken addresses and
   * mails a confirmation) or `off` (signUp signs in at once, and tells whether an address has an
   * account). Default: `email` when NODE_ENV=production, `off` otherwise; `off` is never implied in
   * production, only chosen.
   */
  verification: 'email' | 'off';
  /** How long a confirmation token works (SIGNUP_TOKEN_TTL_HOURS, 24). */
  tokenTtlSeconds: number;
  /** The storefront page a confirmation mail links to, with `token` added (SIGNUP_CONFIRM_URL); unset: the mail carries the code only. */
  confirmUrl?: string;
  /** Mails to one address per hour, above which sign-ups for it send nothing (MAIL_MAX_PER_ADDRESS_PER_HOUR, 5). */
  mailsPerAddressPerHour: number;
  /** Sender address (MAIL_FROM). */
  mailFrom: string;
  /** Mail goes out through this SMTP server (SMTP_URL, smtp:// or smtps://); unset: it is written to the log. */
  smtpUrl?: string;
}

function signupConfig(env: Env, production: boolean): SignupConfig {
  const mode = str(env, 'SIGNUP_VERIFICATION')?.toLowerCase() ?? (production ? 'email' : 'off');
  if (mode !== 'email' && mode !== 'off')
    throw new ConfigError('SIGNUP_VERIFICATION', `must be "email" or "off", got "${mode}"`);
  return {
    verification: mode,
    tokenTtlSeconds: int(env, 'SIGNUP_TOKEN_TTL_HOURS', 24, 1, 24 * 30) * 3600,
    confirmUrl: url(env, 'SIGNUP_CONFIRM_URL', production ? ['https:'] : ['http:', 'https:']),
    mailsPerAddressPerHour: int(env, 'MAIL_MAX_PER_ADDRESS_PER_HOUR', 5, 1, 1000),
    mailFrom: str(env, 'MAIL_FROM') ?? 'no-reply@localhost',
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
  };
}

/**
 * Verification by mail needs mail that reaches people: in production the log mailer would write
 * each mail without its code, and nobody could finish signing up. Checked when the server starts
 * (scripts such as migrate send no mail).
 */
export function requireMailTransport(config: Config): void {
  if (config.production && config.signup.verification === 'email' && !config.signup.smtpUrl)
    throw new ConfigError(
      'SMTP_URL',
      'is required when NODE_ENV=production and SIGNUP_VERIFICATION=email (the default): sign-up mails must reach people. SIGNUP_VERIFICATION=off signs up without mail, but tells anyone which emails have accounts',
    );
}
// ---- end sign-up verification ----

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

/** A decimal number (fractions allowed), for durations that tests shorten below a second. */
function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw))
    throw new ConfigError(name, `must be a number such as 2 or 0.5, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
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

// Redis Cluster (issue 14): REDIS_URL names one Redis (redis://, rediss://) or a cluster
// (redis-cluster://h1:p1,h2:p2, rediss-cluster:// with TLS); src/shared/redis.ts connects either.
function redisUrl(env: Env): string | undefined {
  const raw = str(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  try {
    parseRedisUrl(raw);
  } catch (e) {
    throw new ConfigError('REDIS_URL', (e as Error).message);
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

// --- persisted documents (h4) ---
function trustedDocuments(env: Env): Config['trustedDocuments'] {
  const mode = (str(env, 'TRUSTED_DOCUMENTS') ?? 'off').toLowerCase();
  if (mode !== 'off' && mode !== 'enforce')
    throw new ConfigError('TRUSTED_DOCUMENTS', `must be off or enforce, got "${mode}"`);
  const manifestPath = str(env, 'TRUSTED_DOCUMENTS_MANIFEST');
  if (mode === 'enforce' && !manifestPath)
    throw new ConfigError('TRUSTED_DOCUMENTS_MANIFEST', 'is required when TRUSTED_DOCUMENTS=enforce');
  if (manifestPath && !existsSync(manifestPath))
    throw new ConfigError('TRUSTED_DOCUMENTS_MANIFEST', `names no file: ${manifestPath}`);
  return {
    enforce: mode === 'enforce',
    manifestPath: manifestPath && resolve(manifestPath),
    apqTtlSeconds: int(env, 'APQ_TTL_SECONDS', 24 * 3600, 60, 365 * 24 * 3600),
  };
}

/** DB_* timeouts (see DbTimeouts); the client-side query timeout defaults to just above the statement timeout. */
export function dbTimeouts(env: Env = {}): DbTimeouts {
  const hour = 3_600_000;
  const statementMs = int(env, 'DB_STATEMENT_TIMEOUT_MS', 10_000, 0, hour);
  return {
    statementMs,
    lockMs: int(env, 'DB_LOCK_TIMEOUT_MS', 5000, 0, hour),
    idleInTransactionMs: int(env, 'DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 30_000, 0, hour),
    queryMs: int(env, 'DB_QUERY_TIMEOUT_MS', statementMs === 0 ? 0 : statementMs + 2000, 0, hour),
    connectMs: int(env, 'DB_CONNECT_TIMEOUT_MS', 5000, 100, 600_000),
    poolAcquireMs: int(env, 'DB_POOL_ACQUIRE_TIMEOUT_MS', 10_000, 100, 600_000),
    keepAliveIdleMs: int(env, 'DB_KEEPALIVE_IDLE_MS', 10_000, 0, hour),
    migrationStatementMs: int(env, 'DB_MIGRATION_STATEMENT_TIMEOUT_MS', 0, 0, 24 * hour),
  };
}

/** Web origins and app-link schemes a payment may return the shopper to. */
function storefrontOrigins(env: Env, production: boolean): string[] {
  // STOREFRONT_ORIGINS is checked strictly. CORS_ORIGINS belongs to the HTTP edge and may hold
  // forms of its own: from it, only plain origins (and "*" outside production) are taken.
  const strict = str(env, 'STOREFRONT_ORIGINS') !== undefined;
  const name = strict ? 'STOREFRONT_ORIGINS' : 'CORS_ORIGINS';
  const list = (str(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const parse = (entry: string): string => {
    if (entry === '*') {
      if (production) throw new ConfigError(name, 'must list origins ("*" is refused in production)');
      return entry;
    }
    // An app link: a scheme alone, such as "myapp://".
    if (/^[a-z][a-z0-9+.-]*:\/\/$/i.test(entry) && !/^https?:/i.test(entry)) return entry.toLowerCase();
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(
        name,
        `has "${entry}", which is neither an origin nor an app scheme such as "myapp://"`,
      );
    }
    if (
      (url.protocol !== 'http:' && url.protocol !== 'https:') ||
      url.hostname.includes('*') ||
      url.origin !== entry.replace(/\/+$/, '').toLowerCase()
    ) {
      throw new ConfigError(
        name,
        `has "${entry}"; list origins such as "https://shop.example.com" (no path)`,
      );
    }
    return url.origin;
  };
  if (strict) return list.map(parse);
  return list.flatMap((entry) => {
    try {
      return [parse(entry)];
    } catch {
      return [];
    }
  });
}

// ---- hot and cold orders (issue 14): docs/archive.md ----
export interface ArchiveConfig {
  /** A finished order moves to the archive this long after its last change (0: never). */
  afterSeconds: number;
  /** Orders moved per transaction. */
  batchSize: number;
  /** Pause between two batches of one run. */
  batchPauseMs: number;
}

function archiveConfig(env: Env): ArchiveConfig {
  const days = int(env, 'ARCHIVE_AFTER_DAYS', 90, 0, 36_500);
  const windowDays = int(env, 'AFTER_SALE_WINDOW_DAYS', 14, 1, 365);
  // Buyers may ask for an after-sale until the window closes; an archived order refuses it.
  if (days > 0 && days <= windowDays && str(env, 'ARCHIVE_AFTER_SECONDS') === undefined)
    throw new ConfigError(
      'ARCHIVE_AFTER_DAYS',
      `must be 0 (off) or more than AFTER_SALE_WINDOW_DAYS (${windowDays})`,
    );
  return {
    afterSeconds: int(env, 'ARCHIVE_AFTER_SECONDS', days * 86_400, 0, 36_500 * 86_400),
    batchSize: int(env, 'ARCHIVE_BATCH_SIZE', 500, 1, 10_000),
    batchPauseMs: int(env, 'ARCHIVE_BATCH_PAUSE_MS', 0, 0, 60_000),
  };
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
    // operations (issue 13)
    ops: {
      switchRefreshSeconds: int(env, 'SWITCH_REFRESH_SECONDS', 5, 1, 300),
      salesRollupIntervalMs: int(env, 'SALES_ROLLUP_INTERVAL_MS', 2000, 100, 3_600_000),
      unshippedDays: int(env, 'OPS_UNSHIPPED_DAYS', 3, 1, 365),
    },
    // seller-side store (issue 14, item 3)
    sellerStore: {
      intervalMs: int(env, 'SELLER_STORE_INTERVAL_MS', 1000, 50, 3_600_000),
      readWaitMs: int(env, 'SELLER_STORE_READ_WAIT_MS', 1000, 0, 30_000),
    },
    // hot and cold orders (issue 14)
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
    // --- faults (issue 9): no request waits on the database longer than these -------------------
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
    // ---- storefront conventions and shared catalog caches
    storefrontOrigins: storefrontOrigins(env, production),
    catalogCache: {
      ttlMs: int(env, 'CATALOG_CACHE_TTL_MS', 30_000, 0, 3_600_000),
      staleMs: int(env, 'CATALOG_CACHE_STALE_MS', 300_000, 0, 86_400_000),
      maxEntries: int(env, 'CATALOG_CACHE_MAX_ENTRIES', 20_000, 100, 10_000_000),
    },
    // ---- HTTP caching of public catalog GETs (issue 11.3)
    httpCache: { publicMaxAgeSeconds: int(env, 'HTTP_PUBLIC_MAX_AGE_SECONDS', 30, 0, 86_400) },
    // ---- replicas with read-your-writes (issue 14, docs/replicas.md)
    replicas: {
      maxLagMs: int(env, 'REPLICA_MAX_LAG_MS', 5_000, 0, 3_600_000),
      waitMs: int(env, 'REPLICA_WAIT_MS', 50, 0, 10_000),
      probeMs: int(env, 'REPLICA_PROBE_MS', 500, 20, 60_000),
      memoryClients: int(env, 'REPLICA_RYW_MAX_CLIENTS', 100_000, 100, 10_000_000),
    },
    // security (issue 12): checked after the secrets, so a missing secret is named first
    security: securityConfig(env, production, databaseUrl, paymentProviderUrl),
    // sign-up verification (issue 12, docs/accounts.md)
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
 * Tracing (issue 13), read by src/tracing.ts before anything else loads: on only when an OTLP
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
