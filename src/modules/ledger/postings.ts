import {
  AccountKind,
  accountKey,
  FEE_REVENUE,
  hasFloor,
  isStriped,
  LedgerEntryKind,
  merchantAvailable,
  merchantEscrow,
  PostingKind,
  PROVIDER_CLEARING,
  stripeFor,
  userAvailable,
  type AccountRef,
  type PurchasePart,
} from './ledger';

/**
 * The postings payments make, built by pure functions (no database), like pricing.ts: what moves
 * where is decided here and unit-tested; posting.ts only writes it.
 */

/** One entry of a posting: `amount` (signed minor units, never 0) into or out of `account`. */
export interface PostingLine {
  account: AccountRef;
  amount: number;
  entryKind: LedgerEntryKind;
  /** What the entry names (an order of a checkout); the posting's reference when absent. */
  reference?: string;
}

export interface PostingInput {
  kind: PostingKind;
  /** The business event (payment, refund, top-up, order); (kind, reference) is posted once. */
  reference: string;
  lines: PostingLine[];
}

export interface PurchaseInput {
  buyerId: string;
  /** The payment (or checkout) being paid: a PURCHASE posting per reference. */
  reference: string;
  parts: PurchasePart[];
}

export interface RefundInput {
  /** The refund: a REFUND posting per reference. */
  reference: string;
  buyerId: string;
  merchantId: string;
  /** What goes back to the buyer (or the card). */
  amount: number;
  /** The platform fee part of `amount` given back (see refundFeeShare); the rest comes from the merchant. */
  fee: number;
  /** The merchant's account the refund comes from: ESCROW before release, AVAILABLE after. */
  from?: AccountKind.ESCROW | AccountKind.AVAILABLE;
  /** What the entries name (the order); `reference` when absent. */
  entryReference?: string;
}

export function checkPositive(amount: number, what: string): void {
  if (!Number.isSafeInteger(amount) || amount <= 0)
    throw new RangeError(`${what} must be a positive integer of minor units, got ${amount}`);
}

/**
 * Money paid in by card: the provider holds it (clearing, on the stripe of `reference` when
 * posted, see allocateStripes), the user may spend it.
 */
export function topUpPosting(userId: string, amount: number, reference: string): PostingInput {
  checkPositive(amount, 'amount');
  return {
    kind: PostingKind.TOP_UP,
    reference,
    lines: [
      { account: PROVIDER_CLEARING, amount: -amount, entryKind: LedgerEntryKind.TOP_UP },
      { account: userAvailable(userId), amount, entryKind: LedgerEntryKind.TOP_UP },
    ],
  };
}

/**
 * A purchase: the payer (the buyer's balance, or the provider's clearing account for a card, on the
 * stripe of the purchase's reference when posted) gives the total; each merchant's part less its
 * fee goes to the merchant's escrow and the fee to the platform, on the stripes the part's order
 * hashes to (see LEDGER_STRIPES).
 */
export function purchasePosting(input: PurchaseInput, payer: AccountRef): PostingInput {
  if (input.parts.length === 0) throw new RangeError('A purchase has at least one part');
  let total = 0;
  const lines: PostingLine[] = [];
  for (const p of input.parts) {
    checkPositive(p.amount, 'part amount');
    if (!Number.isSafeInteger(p.fee) || p.fee < 0 || p.fee > p.amount)
      throw new RangeError(`fee must be from 0 to the part's amount, got ${p.fee}`);
    total += p.amount;
    const stripe = stripeFor(p.reference ?? input.reference);
    if (p.amount > p.fee)
      lines.push({
        account: { ...merchantEscrow(p.merchantId), stripe },
        amount: p.amount - p.fee,
        entryKind: LedgerEntryKind.SALE,
        reference: p.reference,
      });
    if (p.fee > 0)
      lines.push({
        account: { ...FEE_REVENUE, stripe },
        amount: p.fee,
        entryKind: LedgerEntryKind.PLATFORM_FEE,
        reference: p.reference,
      });
  }
  checkPositive(total, 'total');
  return {
    kind: PostingKind.PURCHASE,
    reference: input.reference,
    lines: [{ account: payer, amount: -total, entryKind: LedgerEntryKind.PURCHASE }, ...lines],
  };
}

/** Purchase paid from the buyer's balance, or by card (the money is at the provider). */
export const purchaseWithBalancePosting = (input: PurchaseInput) =>
  purchasePosting(input, userAvailable(input.buyerId));
export const purchaseWithCardPosting = (input: PurchaseInput) => purchasePosting(input, PROVIDER_CLEARING);

/**
 * Gives (part of) a purchase back to `payee` (the buyer's balance, or the card through clearing):
 * the fee part from the platform, the rest from the merchant's escrow (or available balance after
 * release). Escrow and fee lines name no stripe: they are taken from whichever stripes hold the
 * money when posted (allocateStripes); a clearing payee goes to the stripe of the entries' reference.
 */
export function refundPosting(input: RefundInput, payee: AccountRef): PostingInput {
  checkPositive(input.amount, 'amount');
  if (!Number.isSafeInteger(input.fee) || input.fee < 0 || input.fee > input.amount) {
    throw new RangeError(`fee must be from 0 to the refund's amount, got ${input.fee}`);
  }
  const from = input.from ?? AccountKind.ESCROW;
  const merchant =
    from === AccountKind.ESCROW ? merchantEscrow(input.merchantId) : merchantAvailable(input.merchantId);
  const reference = input.entryReference;
  const lines: PostingLine[] = [];
  if (input.amount > input.fee)
    lines.push({
      account: merchant,
      amount: -(input.amount - input.fee),
      entryKind: LedgerEntryKind.REFUND,
      reference,
    });
  if (input.fee > 0)
    lines.push({ account: FEE_REVENUE, amount: -input.fee, entryKind: LedgerEntryKind.REFUND, reference });
  lines.push({ account: payee, amount: input.amount, entryKind: LedgerEntryKind.REFUND, reference });
  return { kind: PostingKind.REFUND, reference: input.reference, lines };
}

/** An order completed: its sale moves from the merchant's escrow to the merchant's available balance. */
export function escrowReleasePosting(merchantId: string, amount: number, reference: string): PostingInput {
  checkPositive(amount, 'amount');
  return {
    kind: PostingKind.ESCROW_RELEASE,
    reference,
    lines: [
      { account: merchantEscrow(merchantId), amount: -amount, entryKind: LedgerEntryKind.SALE },
      { account: merchantAvailable(merchantId), amount, entryKind: LedgerEntryKind.SALE },
    ],
  };
}

/**
 * The striped accounts (owner and kind, no stripe) whose debits must be spread over stripes by
 * their balances: those with a floor. A debit from one without a floor (clearing) needs no balance.
 */
export function stripedDebits(lines: PostingLine[]): AccountRef[] {
  const seen = new Map<string, AccountRef>();
  for (const l of lines) {
    const kind = l.account.kind;
    if (l.amount < 0 && isStriped(kind) && hasFloor(kind) && l.account.stripe === undefined) {
      const ref = { ownerType: l.account.ownerType, ownerId: l.account.ownerId, kind };
      seen.set(accountKey(ref), ref);
    }
  }
  return [...seen.values()];
}

/**
 * Resolves the stripes of a posting's lines. A line that names its stripe keeps it; a credit to a
 * striped kind without one, and a debit from a striped kind without a floor (clearing), goes to the
 * stripe of its reference; a debit from a striped kind with a floor without one is split over the
 * stripes that hold money, fullest first, given their balances now (`stripes`: accountKey of the
 * owner and kind → balance per stripe). A debit more than all stripes hold is left on the fullest
 * stripe (the posting then reports the shortage as usual).
 */
export function allocateStripes(
  input: PostingInput,
  stripes: Map<string, Map<number, number>>,
): PostingLine[] {
  const left = new Map([...stripes].map(([k, v]) => [k, new Map(v)]));
  const out: PostingLine[] = [];
  for (const l of input.lines) {
    const kind = l.account.kind;
    if (!isStriped(kind) || l.account.stripe !== undefined) {
      out.push(l);
      continue;
    }
    if (l.amount > 0 || !hasFloor(kind)) {
      out.push({ ...l, account: { ...l.account, stripe: stripeFor(l.reference ?? input.reference) } });
      continue;
    }
    const balances = left.get(accountKey(l.account)) ?? new Map<number, number>();
    const fullest = [...balances].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    let need = -l.amount;
    for (const [stripe, balance] of fullest) {
      if (need === 0) break;
      const take = Math.min(need, balance);
      if (take <= 0) continue;
      out.push({ ...l, account: { ...l.account, stripe }, amount: -take });
      balances.set(stripe, balance - take);
      need -= take;
    }
    if (need > 0) out.push({ ...l, account: { ...l.account, stripe: fullest[0]?.[0] ?? 0 }, amount: -need });
  }
  return out;
}
