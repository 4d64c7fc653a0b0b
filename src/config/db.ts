import { type Env, int } from './parse';

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
