import { ConfigError, type Env, int, str, url } from './parse';

/** Traffic protection: the variables of docs/security.md. */
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

export function protectionConfig(env: Env): ProtectionConfig {
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

/** Accounts, tokens, checkout caps and the card provider's kind: the variables of docs/security.md. */
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

export function securityConfig(
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
export function requirePaymentProvider(config: { security: SecurityConfig }): 'http' | 'sandbox' {
  const kind = config.security.paymentProvider;
  if (kind) return kind;
  throw new ConfigError(
    'PAYMENT_PROVIDER',
    'must be chosen with DATABASE_URL: set PAYMENT_PROVIDER_URL (the real provider), or PAYMENT_PROVIDER=sandbox for development (it pays without a card)',
  );
}

/** Sign-up verification by mail and the mail it sends: the variables of docs/accounts.md. */
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

export function signupConfig(env: Env, production: boolean): SignupConfig {
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
export function requireMailTransport(config: { production: boolean; signup: SignupConfig }): void {
  if (config.production && config.signup.verification === 'email' && !config.signup.smtpUrl)
    throw new ConfigError(
      'SMTP_URL',
      'is required when NODE_ENV=production and SIGNUP_VERIFICATION=email (the default): sign-up mails must reach people. SIGNUP_VERIFICATION=off signs up without mail, but tells anyone which emails have accounts',
    );
}
