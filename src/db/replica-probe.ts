import type { Connection } from '@mikro-orm/core';
import { parseLsn } from './lsn';

/** What the router knows of one replica, refreshed by the background probe. */
export interface ReplicaNode {
  /** DATABASE_REPLICA_URLS[i], for logs. */
  name: string;
  conn: Connection;
  /** Answered the last probe (and no read on it has failed since). */
  up: boolean;
  /** WAL replayed so far (null until the first probe answers). */
  replayLsn: bigint | null;
  /** How stale its data is, by the primary's WAL history (see lagMs()). */
  lagMs: number;
  probing: boolean;
}

/** The primary's WAL position at a moment. */
export interface WalSample {
  at: number;
  lsn: bigint;
}

/**
 * A replica's staleness: the age of the oldest primary position it has not replayed yet (0 when
 * it has replayed the newest). Unlike `now() - pg_last_xact_replay_timestamp()` this does not grow
 * while the primary is idle, and unlike a byte count it is in the unit REPLICA_MAX_LAG_MS uses.
 * `samples` are oldest first, one per probe, covering more than REPLICA_MAX_LAG_MS; a replica
 * behind all of them is staler than the whole history (or, right after start-up, of unknown
 * staleness): Infinity, never read.
 */
export function lagMs(replayLsn: bigint, samples: WalSample[], now: number): number {
  if (samples.length && samples[0].lsn > replayLsn) return Infinity;
  for (const s of samples) if (s.lsn > replayLsn) return Math.max(0, now - s.at);
  return 0;
}

/** The WAL a server has applied: a standby's replay position, or a primary's own position. */
export const REPLAY_LSN_SQL =
  'select (case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end)::text as lsn';

/** After a commit: insert position, not write position (with synchronous_commit off the commit may not be written yet). */
export const PRIMARY_LSN_SQL = 'select pg_current_wal_insert_lsn()::text as lsn';

export async function lsnOf(conn: Connection, sql: string): Promise<bigint | null> {
  const [row] = (await conn.execute<{ lsn: string | null }[]>(sql, [], 'all')) as { lsn: string | null }[];
  return row?.lsn ? parseLsn(row.lsn) : null;
}
