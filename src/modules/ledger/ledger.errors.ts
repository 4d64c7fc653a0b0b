import type { AccountRef } from './ledger';

/**
 * A posting would take an account below zero; nothing was posted. Thrown out of the caller's
 * transaction, so `inTransaction` rolls it back and rethrows: callers catch it and answer
 * `InsufficientFundsError` with `balance` (or, inside the transaction, turn it into a `Rollback`).
 */
export class InsufficientFunds extends Error {
  override readonly name = 'InsufficientFunds';

  constructor(
    readonly accountId: string,
    readonly account: AccountRef,
    /** The account's balance now, in minor units. */
    readonly balance: number,
    /** How much the posting would take out of it. */
    readonly needed: number,
  ) {
    super(`Insufficient funds: account ${accountId} has ${balance}, ${needed} needed`);
  }
}

/**
 * A posting of the same (kind, reference) already exists with different entries: the reference
 * was reused for another event, a bug in the caller. Nothing was posted.
 */
export class LedgerConflict extends Error {
  override readonly name = 'LedgerConflict';

  constructor(
    readonly kind: string,
    readonly reference: string,
    readonly postingId: string,
  ) {
    super(`Ledger posting ${kind} ${reference} already exists (${postingId}) with different entries`);
  }
}
