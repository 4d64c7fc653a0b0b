/**
 * What a database failure means for the caller. Most errors are defects; some say only that the
 * database cannot serve right now (unreachable, frozen, shutting down, read-only, out of
 * resources, or a timeout we set ourselves), and the same request, retried later with the same
 * idempotency key, will succeed. Those reach clients as SERVICE_UNAVAILABLE (server/errors.ts).
 */

/** The SQLSTATE of an error, looking through MikroORM's and our own wrappers. */
export function sqlStateOf(e: unknown): string | undefined {
  for (const err of causes(e)) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export type UnavailableReason =
  | 'connection' // 08xxx, or the socket failed (refused, reset, closed)
  | 'shutdown' // 57P01..57P05: the server is stopping, restarting or not yet accepting
  | 'resources' // 53xxx: out of connections, memory or disk
  | 'read-only' // 25006: a standby or default_transaction_read_only
  | 'lock-timeout' // 55P03: lock_timeout
  | 'statement-timeout' // 57014: statement_timeout (or a cancel)
  | 'idle-timeout' // 25P03: idle_in_transaction_session_timeout ended the session
  | 'query-timeout' // the client stopped waiting for an answer (a frozen or unreachable server)
  | 'pool-timeout' // no pooled connection within DB_POOL_ACQUIRE_TIMEOUT_MS
  | 'contention'; // 40P01/40001 still failing after inTransaction's retries

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Messages of the `pg` driver, knex and tarn that carry no code. */
const MESSAGES: [RegExp, UnavailableReason][] = [
  [/Timeout acquiring a connection/i, 'pool-timeout'],
  [/Query read timeout/i, 'query-timeout'],
  [/timeout exceeded when trying to connect/i, 'connection'],
  [/Connection terminated/i, 'connection'],
  [/connection timeout/i, 'connection'],
  [/timeout expired/i, 'connection'],
  [/Client has encountered a connection error/i, 'connection'],
  [/is not queryable/i, 'connection'],
  [/Connection ended unexpectedly/i, 'connection'],
  // knex, for a query of a transaction whose connection was lost (closed after a read timeout):
  // the transaction already ended with the connection error, which the caller never sees.
  [/Transaction query already complete/i, 'connection'],
];

/** Why the database could not serve, or null when the error is not an outage (a defect, bad input). */
export function unavailableReason(e: unknown): UnavailableReason | null {
  const state = sqlStateOf(e);
  if (state) {
    if (state.startsWith('08')) return 'connection';
    if (/^57P0[1-5]$/.test(state)) return 'shutdown';
    if (state.startsWith('53')) return 'resources';
    if (state === '25006') return 'read-only';
    if (state === '55P03') return 'lock-timeout';
    if (state === '57014') return 'statement-timeout';
    if (state === '25P03') return 'idle-timeout';
    if (state === '40P01' || state === '40001') return 'contention';
    return null;
  }
  for (const err of causes(e)) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return 'connection';
    if ((err as { name?: unknown }).name === 'KnexTimeoutError') return 'pool-timeout';
    const message = (err as { message?: unknown }).message;
    if (typeof message === 'string') {
      for (const [pattern, reason] of MESSAGES) if (pattern.test(message)) return reason;
    }
  }
  return null;
}

/** The error and what it wraps (MikroORM's `previous`, `cause`, GraphQL's `originalError`), bounded. */
function* causes(e: unknown): Generator<object> {
  const seen = new Set<unknown>();
  let current: unknown = e;
  for (let depth = 0; depth < 8 && current && typeof current === 'object' && !seen.has(current); depth++) {
    seen.add(current);
    yield current;
    const c = current as { cause?: unknown; previous?: unknown; originalError?: unknown };
    current = c.originalError ?? c.previous ?? c.cause;
  }
}
