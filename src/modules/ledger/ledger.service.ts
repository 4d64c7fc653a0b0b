import type { EntityManager } from '@mikro-orm/postgresql';
import { checkInvariants, type LedgerProblem } from './audit';
import { accountKey, type AccountKind, type AccountRef, type OwnerType } from './ledger';
import { ensureAccounts, post, type PostResult } from './posting';
import {
  escrowReleasePosting,
  purchaseWithBalancePosting,
  purchaseWithCardPosting,
  refundPosting,
  topUpPosting,
  type PostingInput,
  type PurchaseInput,
  type RefundInput,
} from './postings';
import { balance, entries, findAccount, type LedgerEntryPage } from './queries';
import { PROVIDER_CLEARING, userAvailable } from './ledger';

export * from './ledger';
export { InsufficientFunds, LedgerConflict } from './ledger.errors';
export { LedgerInvariant, type LedgerProblem } from './audit';
export type { PostResult } from './posting';
export type { PostingInput, PostingLine, PurchaseInput, RefundInput } from './postings';
export type { LedgerEntryPage, LedgerEntryRow } from './queries';

/**
 * The double-entry ledger. Every money movement is one posting whose entries sum to zero,
 * written in the caller's transaction together with the balance changes; the database rejects
 * anything else at commit (migrations/Migration20261123020000_ledger.ts).
 *
 * This class is the module's face; the work is in postings.ts (what a business event posts, pure),
 * posting.ts (writing), queries.ts (reading) and audit.ts (checking).
 */
export class LedgerService {
  constructor(private readonly maxPageSize = 100) {}

  /** The id of an account (its first stripe for a striped kind), created (empty) on first use. Users and merchants must exist. */
  async accountOf(
    em: EntityManager,
    ownerType: OwnerType,
    ownerId: string | null,
    kind: AccountKind,
  ): Promise<string> {
    const ref = { ownerType, ownerId: ownerId === null ? null : String(ownerId), kind };
    const ids = await ensureAccounts(em, [ref]);
    return ids.get(accountKey(ref))!;
  }

  /** An account's id and balance (all its stripes), without creating it; null when it was never used. */
  findAccount(em: EntityManager, ref: AccountRef): Promise<{ id: string; balance: number } | null> {
    return findAccount(em, ref);
  }

  /** Makes sure the accounts exist and returns their ids by accountKey. */
  ensureAccounts(em: EntityManager, refs: AccountRef[]): Promise<Map<string, string>> {
    return ensureAccounts(em, refs);
  }

  /** Posts one business event in the caller's transaction (see posting.ts `post`). */
  post(em: EntityManager, input: PostingInput): Promise<PostResult> {
    return post(em, input);
  }

  balance(em: EntityManager, accountId: string): Promise<number> {
    return balance(em, accountId);
  }

  entries(em: EntityManager, accountId: string, first = 20, after?: string | null): Promise<LedgerEntryPage> {
    return entries(em, accountId, first, after, this.maxPageSize);
  }

  checkInvariants(em: EntityManager, limit = 100): Promise<LedgerProblem[]> {
    return checkInvariants(em, limit);
  }

  // ------------------------------------------------------------------ the postings payments make

  /** Money paid in by card: the provider holds it (clearing), the user may spend it. */
  topUp(em: EntityManager, userId: string, amount: number, reference: string): Promise<PostResult> {
    return post(em, topUpPosting(userId, amount, reference));
  }

  /** A purchase paid from the buyer's balance: each merchant's sale net of fee into escrow, fees to the platform. */
  purchaseWithBalance(em: EntityManager, input: PurchaseInput): Promise<PostResult> {
    return post(em, purchaseWithBalancePosting(input));
  }

  /** A purchase paid by card: the money is at the provider (clearing); sales and fees as with balance. */
  purchaseWithCard(em: EntityManager, input: PurchaseInput): Promise<PostResult> {
    return post(em, purchaseWithCardPosting(input));
  }

  /** An order completed: its sale moves from the merchant's escrow to the merchant's available balance. */
  releaseEscrow(
    em: EntityManager,
    merchantId: string,
    amount: number,
    reference: string,
  ): Promise<PostResult> {
    return post(em, escrowReleasePosting(merchantId, amount, reference));
  }

  /** Gives (part of) a purchase back to the buyer's balance: from the merchant and the platform fee. */
  refundToBalance(em: EntityManager, input: RefundInput): Promise<PostResult> {
    return post(em, refundPosting(input, userAvailable(input.buyerId)));
  }

  /** Gives (part of) a card purchase back to the card: the provider pays it out (clearing). */
  refundToCard(em: EntityManager, input: RefundInput): Promise<PostResult> {
    return post(em, refundPosting(input, PROVIDER_CLEARING));
  }
}
