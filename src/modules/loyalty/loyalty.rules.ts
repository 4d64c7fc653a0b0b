import { MINOR_PER_UNIT } from '../../shared/money';

/**
 * The arithmetic of loyalty points, as pure functions (unit-tested like pricing.ts). All amounts
 * are whole points or integer minor units; products are taken in BigInt so that no rounding ever
 * comes from floating point.
 *
 * 1. Earning. An order earns `rate` points per whole currency unit the buyer paid and kept, when it
 *    completes: floor(kept / 100) × rate. A refund before completion simply leaves less to earn on.
 * 2. Refunds after completion take earned points back in proportion to the money refunded. What
 *    the order still leaves the customer is floor(earned × stillKept / keptAtEarning); each refund
 *    takes back the difference to what has been taken back already. Because each step is computed
 *    from the cumulative refunded amount, splitting a refund into pieces takes back exactly what one
 *    refund of the sum would; a full refund takes back all of it; nothing ever takes back more than
 *    was earned. Rounding is down on what the customer keeps (as earning rounds down), so it never
 *    leaves the customer a point for money they got back.
 * 3. Points spent on an order come back in proportion to what is refunded of its payment:
 *    floor(used × refunded / paid) in all, all of them once the order is refunded in full (and all
 *    of them when an unpaid order is cancelled). Again cumulative, so pieces add up exactly.
 */

/** Points an order earns on `keptMinor` of its payment at `rate` points per currency unit. */
export function pointsEarned(keptMinor: number, rate: number): number {
  if (keptMinor <= 0 || rate <= 0) return 0;
  return Math.floor(keptMinor / MINOR_PER_UNIT) * rate;
}

/** floor(a × b / c) without leaving integers (c > 0). */
function mulDiv(a: number, b: number, c: number): number {
  return Number((BigInt(a) * BigInt(b)) / BigInt(c));
}

export interface EarnedOnOrder {
  /** Points the order earned at completion. */
  earned: number;
  /** The order's payment less its refunds at completion (minor units): what the points were earned on. */
  keptAtEarning: number;
  /** Points taken back by refunds since. */
  reversed: number;
}

/**
 * Points to take back now that the order's refunds (all of them, this one included) reach
 * `refundedTotal` of its `paid` share (rule 2). Zero when nothing was earned.
 */
export function pointsToReverse(e: EarnedOnOrder, paid: number, refundedTotal: number): number {
  if (e.earned <= 0 || e.keptAtEarning <= 0) return 0;
  // What was refunded before completion was never earned on.
  const refundedSince = refundedTotal - (paid - e.keptAtEarning);
  const stillKept = Math.max(0, e.keptAtEarning - Math.max(0, refundedSince));
  const leaves = mulDiv(e.earned, stillKept, e.keptAtEarning);
  return Math.max(0, e.earned - leaves - e.reversed);
}

/**
 * Spent points to give back now that refunds reach `refundedTotal` of the order's `paid` share
 * (rule 3); `returned` is what earlier refunds gave back.
 */
export function pointsToReturn(used: number, returned: number, paid: number, refundedTotal: number): number {
  if (used <= 0) return 0;
  const due = paid <= 0 || refundedTotal >= paid ? used : mulDiv(used, Math.max(0, refundedTotal), paid);
  return Math.max(0, due - returned);
}
