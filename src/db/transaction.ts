import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from '@mikro-orm/postgresql';

/** Thrown inside a transaction to roll it back and hand `result` (an expected failure) to the caller. */
export class Rollback<R> extends Error {
  constructor(readonly result: R) {
    super('rolled back');
  }
}

/** Callbacks to run once the current `inTransaction` has committed (a set: registering twice runs once). */
const afterCommitScope = new AsyncLocalStorage<Set<() => void>>();

/**
 * Runs `fn` after the enclosing `inTransaction` commits (never when it rolls back or is retried).
 * Outside a transaction it does nothing: there is no commit to follow. The events module uses it to
 * wake the outbox relay, so this file needs to know nothing of events.
 */
export function afterCommit(fn: () => void): void {
  afterCommitScope.getStore()?.add(fn);
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
  // Nested in another inTransaction: the outer commit runs the callbacks.
  const outer = afterCommitScope.getStore();
  for (let attempt = 1; ; attempt++) {
    const callbacks = new Set<() => void>();
    try {
      const result = await afterCommitScope.run(outer ?? callbacks, () =>
        em.fork().transactional((tx) => fn(tx as EntityManager)),
      );
      for (const callback of callbacks) callback();
      return result;
    } catch (e) {
      if (e instanceof Rollback) return e.result as R;
      const code = codeOf(e);
      if (code && RETRYABLE.has(code) && attempt < 5) continue;
      throw e;
    }
  }
}
