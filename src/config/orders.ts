import { ConfigError, type Env, int, str } from './parse';

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

/** Hot and cold orders: docs/archive.md. */
export interface ArchiveConfig {
  /** A finished order moves to the archive this long after its last change (0: never). */
  afterSeconds: number;
  /** Orders moved per transaction. */
  batchSize: number;
  /** Pause between two batches of one run. */
  batchPauseMs: number;
}

export function archiveConfig(env: Env): ArchiveConfig {
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

export function flashSalePrefix(raw: string): string {
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(raw))
    throw new ConfigError('FLASH_SALE_REDIS_PREFIX', 'must be 1-40 letters, digits, "_", "." or "-"');
  return raw;
}
