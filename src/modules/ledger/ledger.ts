/**
 * The ledger's vocabulary and its pure arithmetic (no database): account references, posting and
 * entry kinds, the platform fee and its share of a refund. Amounts are integer minor units.
 */

export enum OwnerType {
  USER = 'USER',
  MERCHANT = 'MERCHANT',
  PLATFORM = 'PLATFORM',
}

export enum AccountKind {
  /** Spendable (users) or withdrawable (merchants) money. */
  AVAILABLE = 'AVAILABLE',
  /** A merchant's sales held until their orders complete. */
  ESCROW = 'ESCROW',
  /** The platform's fees. */
  FEE_REVENUE = 'FEE_REVENUE',
  /** Mirrors money held at the card provider: the one kind that may be negative (striped, see LEDGER_STRIPES). */
  PROVIDER_CLEARING = 'PROVIDER_CLEARING',
}

/** What a posting is; (kind, reference) names one business event, posted at most once. */
export enum PostingKind {
  TOP_UP = 'TOP_UP',
  PURCHASE = 'PURCHASE',
  ESCROW_RELEASE = 'ESCROW_RELEASE',
  REFUND = 'REFUND',
  ADJUSTMENT = 'ADJUSTMENT',
}

/** What an entry means to the account's owner (the contract's LedgerEntryKind). */
export enum LedgerEntryKind {
  TOP_UP = 'TOP_UP',
  PURCHASE = 'PURCHASE',
  SALE = 'SALE',
  PLATFORM_FEE = 'PLATFORM_FEE',
  REFUND = 'REFUND',
  ADJUSTMENT = 'ADJUSTMENT',
}

/** An account by its owner and kind; the platform's have no owner id. */
export interface AccountRef {
  ownerType: OwnerType;
  ownerId: string | null;
  kind: AccountKind;
  /**
   * Which sub-account of a striped kind (see STRIPED_KINDS); absent or 0 for every other account.
   * A striped account's balance is the sum of its stripes.
   */
  stripe?: number;
}

/**
 * How many sub-accounts ("stripes") a merchant's escrow, the platform's fee revenue and the
 * platform's provider clearing are split into. Every sale credits escrow and fees, and every card
 * purchase, top-up and card refund moves clearing; as one row each they were a lock every sale of
 * a popular merchant (and every sale, or card payment, of the platform) queued on. A movement goes
 * to the stripe its reference hashes to, so concurrent ones mostly touch different rows; the
 * balance is the sum of the stripes. Escrow and fees have a floor per stripe but no floor a sale
 * must check (money leaves them only through releases and refunds, which lock every stripe and
 * take from those that hold it); clearing has no floor at all (it may go below zero), so its
 * debits, like its credits, simply go to their reference's stripe. Nothing is lost by splitting.
 * The database allows stripes 0 to 63, so the count can grow without a migration.
 */
export const LEDGER_STRIPES = 16;

/** The account kinds that are split into stripes. */
export const STRIPED_KINDS: ReadonlySet<AccountKind> = new Set([
  AccountKind.ESCROW,
  AccountKind.FEE_REVENUE,
  AccountKind.PROVIDER_CLEARING,
]);

export const isStriped = (kind: AccountKind): boolean => STRIPED_KINDS.has(kind);

/**
 * The account kinds without a floor: their balance (and each stripe's) may go below zero.
 * PROVIDER_CLEARING mirrors money held at the card provider; the database has the same exception.
 */
export const UNFLOORED_KINDS: ReadonlySet<AccountKind> = new Set([AccountKind.PROVIDER_CLEARING]);

export const hasFloor = (kind: AccountKind): boolean => !UNFLOORED_KINDS.has(kind);

/**
 * The stripe a movement naming `reference` (an order, a payment, a refund) goes to: a stable hash,
 * spread over the stripes. Credits of every striped kind, and debits of one without a floor.
 */
export function stripeFor(reference: string, stripes = LEDGER_STRIPES): number {
  let h = 2166136261; // FNV-1a
  for (let i = 0; i < reference.length; i++) {
    h ^= reference.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % stripes;
}

export const userAvailable = (userId: string): AccountRef => ({
  ownerType: OwnerType.USER,
  ownerId: String(userId),
  kind: AccountKind.AVAILABLE,
});
export const merchantEscrow = (merchantId: string): AccountRef => ({
  ownerType: OwnerType.MERCHANT,
  ownerId: String(merchantId),
  kind: AccountKind.ESCROW,
});
export const merchantAvailable = (merchantId: string): AccountRef => ({
  ownerType: OwnerType.MERCHANT,
  ownerId: String(merchantId),
  kind: AccountKind.AVAILABLE,
});
export const FEE_REVENUE: AccountRef = Object.freeze({
  ownerType: OwnerType.PLATFORM,
  ownerId: null,
  kind: AccountKind.FEE_REVENUE,
});
export const PROVIDER_CLEARING: AccountRef = Object.freeze({
  ownerType: OwnerType.PLATFORM,
  ownerId: null,
  kind: AccountKind.PROVIDER_CLEARING,
});

/** Which (owner type, kind) pairs exist; the database has the same rule as a CHECK. */
export function isValidAccount(ref: AccountRef): boolean {
  const stripe = ref.stripe ?? 0;
  if (!Number.isInteger(stripe) || stripe < 0 || stripe >= LEDGER_STRIPES) return false;
  if (stripe !== 0 && !isStriped(ref.kind)) return false;
  switch (ref.ownerType) {
    case OwnerType.USER:
      return ref.kind === AccountKind.AVAILABLE && isOwnerId(ref.ownerId);
    case OwnerType.MERCHANT:
      return (
        (ref.kind === AccountKind.AVAILABLE || ref.kind === AccountKind.ESCROW) && isOwnerId(ref.ownerId)
      );
    case OwnerType.PLATFORM:
      return (
        (ref.kind === AccountKind.FEE_REVENUE || ref.kind === AccountKind.PROVIDER_CLEARING) &&
        ref.ownerId === null
      );
    default:
      return false;
  }
}

const isOwnerId = (id: string | null): boolean =>
  id !== null && /^[1-9]\d{0,18}$/.test(String(id)) && BigInt(id) <= 9223372036854775807n;

export const accountKey = (ref: AccountRef): string =>
  `${ref.ownerType}:${ref.ownerId ?? ''}:${ref.kind}${ref.stripe ? `:${ref.stripe}` : ''}`;

const BPS = 10_000n;

function checkAmount(amount: number, field: string): bigint {
  if (!Number.isSafeInteger(amount) || amount < 0)
    throw new RangeError(`${field} must be a non-negative integer of minor units, got ${amount}`);
  return BigInt(amount);
}

/**
 * The platform's fee on a sale of `amount` at `bps` basis points: floor(amount × bps / 10000),
 * so the fee never rounds up against the merchant; `net` goes to the merchant.
 */
export function splitFee(amount: number, bps: number): { fee: number; net: number } {
  const a = checkAmount(amount, 'amount');
  if (!Number.isInteger(bps) || bps < 0 || bps > 10_000)
    throw new RangeError(`bps must be an integer from 0 to 10000, got ${bps}`);
  const fee = Number((a * BigInt(bps)) / BPS);
  return { fee, net: amount - fee };
}

/**
 * The fee part of refunding `amount` of a sale that was paid `paid` with fee `fee`, after
 * `refundedBefore` was already refunded: the fee of the cumulative refund minus the fee already
 * given back, floor((before + amount) × fee / paid) − floor(before × fee / paid). However a sale is
 * refunded in parts, the fee parts add up to the whole fee exactly when it is refunded in full and
 * never exceed it before, and the merchant's parts never exceed what the merchant got (paid − fee).
 */
export function refundFeeShare(
  paid: number,
  fee: number,
  refundedBefore: number,
  amount: number,
): { fee: number; net: number } {
  const p = checkAmount(paid, 'paid');
  const f = checkAmount(fee, 'fee');
  const before = checkAmount(refundedBefore, 'refundedBefore');
  const a = checkAmount(amount, 'amount');
  if (f > p) throw new RangeError(`fee ${fee} exceeds the amount paid ${paid}`);
  if (before + a > p)
    throw new RangeError(`refunding ${amount} after ${refundedBefore} exceeds the amount paid ${paid}`);
  if (p === 0n) return { fee: 0, net: 0 };
  const share = Number(((before + a) * f) / p - (before * f) / p);
  return { fee: share, net: amount - share };
}

/** One merchant's part of a purchase: `amount` paid for it, of which `fee` goes to the platform. */
export interface PurchasePart {
  merchantId: string;
  amount: number;
  fee: number;
  /** What the merchant's entries name (the order); the posting's reference when absent. */
  reference?: string;
}

/** Purchase parts with the platform fee at `bps` worked out (splitFee per part). */
export const partsWithFee = (parts: Omit<PurchasePart, 'fee'>[], bps: number): PurchasePart[] =>
  parts.map((p) => ({ ...p, fee: splitFee(p.amount, bps).fee }));
