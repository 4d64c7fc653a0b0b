import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlStateOf } from './pg-errors';

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

/**
 * Thrown inside a transaction to roll it back and run it again after a short random pause, like a
 * deadlock: the transaction found a row busy and must see it again once its holder is done.
 */
export class RetryTransaction extends Error {
  constructor() {
    super('transaction retried');
  }
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock detected, serialization failure
const MAX_ATTEMPTS = 6;
/** Backoff before retry n (1-based): a random wait in [0, min(CAP, BASE · 2^n)) ms ("full jitter"). */
const BASE_MS = 10;
const CAP_MS = 500;

/**
 * How long to wait before retrying after `attempt` failed. Random, so transactions that collided
 * do not all start again at the same instant and collide again (an immediate retry re-creates the
 * very interleaving that deadlocked); growing, so a hot row is not hammered.
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(CAP_MS, BASE_MS * 2 ** attempt));
}

/**
 * Runs `fn` in one transaction: it commits once, or rolls back when `fn` throws. A `Rollback`
 * becomes the return value (nothing is committed for an expected failure); deadlocks and
 * serialization failures between concurrent transactions are retried from the start after a
 * jittered, exponentially growing pause (at most MAX_ATTEMPTS attempts, about 1 s of waiting).
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
      const code = e instanceof RetryTransaction ? '40001' : sqlStateOf(e);
      if (!code || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, retryDelayMs(attempt)));
    }
  }
}
