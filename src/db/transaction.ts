import type { EntityManager } from '@mikro-orm/postgresql';
import { eventsCommitted, trackEventWrites } from '../modules/events/outbox-signal';

/** Thrown inside a transaction to roll it back and hand `result` (an expected failure) to the caller. */
export class Rollback<R> extends Error {
  constructor(readonly result: R) {
    super('rolled back');
  }
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure

const codeOf = (e: unknown): string | undefined =>
  (e as { code?: string })?.code ?? (e as { cause?: { code?: string } })?.cause?.code;

/**
 * Runs `fn` in one transaction: it commits once, or rolls back when `fn` throws. A `Rollback`
 * becomes the return value (nothing is committed for an expected failure); deadlocks between
 * concurrent transactions are retried from the start.
 */
export async function inTransaction<T, R = never>(
  em: EntityManager,
  fn: (tx: EntityManager) => Promise<T>,
): Promise<T | R> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { result, wroteEvents } = await trackEventWrites(() =>
        em.fork().transactional((tx) => fn(tx as EntityManager)),
      );
      if (wroteEvents) eventsCommitted();
      return result;
    } catch (e) {
      if (e instanceof Rollback) return e.result as R;
      const code = codeOf(e);
      if (code && RETRYABLE.has(code) && attempt < 5) continue;
      throw e;
    }
  }
}
