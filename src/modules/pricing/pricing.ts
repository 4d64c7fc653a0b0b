/**
 * Pricing: how a cart's amounts are worked out.
 *
 * Every amount is a whole number of minor units (cents); nothing is ever a fraction of a cent, and the
 * same cart at the same moment always prices the same way.
 *
 * 1. Subtotal. Each line costs its unit price times its quantity; the cart subtotal is the sum of lines.
 *
 * 2. Promotions. A promotion counts when the current time is inside its window (from `startsAt`,
 *    inclusive, until `endsAt`, exclusive; a missing bound is open) and the cart subtotal is at least
 *    its minimum. It covers the lines in its collection (every line when it names no collection); a
 *    merchant's promotion covers only that merchant's lines, a platform promotion covers every
 *    merchant. A promotion covering no line does not apply. All promotions that apply stack, one after
 *    the other, in a fixed order: percentages first, then fixed amounts, each group by promotion id.
 *    Each one works on what is still left to pay on its lines after the ones before it:
 *    - a percentage takes that percentage of what is left, rounded down to the cent;
 *    - a fixed amount takes its value, but never more than what is left.
 *    The amount is shared over the promotion's lines in proportion to what is left on each.
 *    The cart lists the promotions that took a non-zero amount.
 *
 * 3. Coupon. At most one coupon, applied after all promotions to everything left on the whole cart,
 *    with the same percentage / fixed-amount arithmetic, shared over all lines in proportion to what
 *    is left on each. It applies when the current time is inside its window and the cart subtotal
 *    (before any discount) reaches its minimum; otherwise it is kept on the cart but not applied, with
 *    the reason: NOT_STARTED, ENDED, or MIN_SUBTOTAL (the window is checked first). How often a coupon
 *    may be used is checked separately, against past orders.
 *
 * 4. Points. A customer may pay part of the goods with points. The points can cover at most
 *    `maxShareBps` of the goods total after discounts (rounded down to the cent), and never more than
 *    the points' own value; the result is rounded down to whole points, so the points discount is always
 *    exactly pointsUsed x pointValue. Because the cart is split into one order per merchant and each
 *    order records whole points, each merchant's share is also in whole points and can be at most
 *    that merchant's goods total after discounts; when that limit bites (only possible when a point is
 *    worth more than one cent) fewer points are used.
 *
 * 5. Lines. A line's discount is its promotion discount plus its coupon discount; its total is its
 *    subtotal minus its discount minus its points discount, and is never negative.
 *
 * 6. Merchant groups (one order per merchant at checkout). Lines are grouped by merchant, in the order
 *    each merchant first appears in the cart. Points are shared between groups in whole points, in
 *    proportion to each group's goods total after discounts; each group's points discount (its points
 *    times the point value) is then shared over its lines in proportion to what is left on each.
 *    Shipping is charged per group: the flat fee, unless the group's goods total after discounts (before
 *    points) reaches the free-shipping threshold. A group's total is its lines' totals plus its
 *    shipping.
 *
 * 7. Totals. The cart's subtotal, discount, points discount and shipping are the sums over its lines and
 *    groups, and its total is the sum of the group totals: the line totals plus shipping.
 *
 * Proportional sharing ("allocation") uses the largest-remainder method: each line first gets its
 * exact share rounded down, and the cents still missing go one each to the lines whose shares lost the
 * most in rounding (the earlier line on a tie). The parts always add up to the amount exactly and no
 * line ever gets more than what it is weighted by.
 */

export type DiscountKind = 'PERCENT' | 'FIXED';

export interface PriceLine {
  key: string;
  merchantId: string;
  unitPrice: number;
  quantity: number;
  collections: string[];
}

export interface PromotionRule {
  id: string;
  name: string;
  kind: DiscountKind;
  /** PERCENT: basis points (1000 = 10%); FIXED: minor units */
  value: number;
  collection: string | null;
  /** null: any merchant (platform promotion); else only that merchant's lines */
  merchantId: string | null;
  minSubtotal: number | null;
  startsAt: Date | null;
  endsAt: Date | null;
}

export interface CouponRule {
  code: string;
  kind: DiscountKind;
  value: number;
  minSubtotal: number | null;
  startsAt: Date | null;
  endsAt: Date | null;
}

export interface PointsRule {
  points: number;
  /** minor units per point */
  pointValue: number;
  /** largest share of the goods total (after discounts) points may pay, in basis points */
  maxShareBps: number;
}

export interface PricedLine {
  key: string;
  merchantId: string;
  subtotal: number;
  promotionDiscount: number;
  couponDiscount: number;
  discount: number;
  pointsDiscount: number;
  total: number;
}

export interface PricedGroup {
  merchantId: string;
  subtotal: number;
  discount: number;
  pointsDiscount: number;
  pointsUsed: number;
  shippingFee: number;
  total: number;
  lines: PricedLine[];
}

export type CouponRejection = 'NOT_STARTED' | 'ENDED' | 'MIN_SUBTOTAL';

export interface PricingResult {
  lines: PricedLine[];
  subtotal: number;
  discount: number;
  pointsDiscount: number;
  pointsUsed: number;
  shippingFee: number;
  total: number;
  appliedPromotions: string[];
  coupon: { code: string; applied: boolean; reason?: CouponRejection } | null;
  groups: PricedGroup[];
}

export interface ShippingRule {
  /** flat fee per merchant group */
  flatFee: number;
  /** a group whose goods total after discounts reaches this ships free; null: never free */
  freeAbove: number | null;
}

export interface PricingInput {
  lines: PriceLine[];
  promotions: PromotionRule[];
  coupon: CouponRule | null;
  points?: PointsRule | null;
  shipping?: ShippingRule | null;
  now: Date;
}

const BPS_DENOMINATOR = 10_000;

/** Splits `amount` over `weights` proportionally with the largest-remainder method: integer parts that sum exactly to amount, never more than each weight. */
export function allocate(amount: number, weights: number[]): number[] {
  requireAmount(amount, 'amount');
  weights.forEach((w, i) => requireAmount(w, `weights[${i}]`));
  const total = weights.reduce((sum, w) => sum + BigInt(w), 0n);
  const whole = BigInt(amount);
  if (whole > total) throw new RangeError(`cannot allocate ${amount} over weights totalling ${total}`);
  if (whole === 0n) return weights.map(() => 0);
  // BigInt: amount x weight easily passes 2^53 for large carts, and a float would lose cents.
  const parts = weights.map((w) => (whole * BigInt(w)) / total);
  const remainders = weights.map((w) => (whole * BigInt(w)) % total);
  let missing = whole - parts.reduce((sum, p) => sum + p, 0n);
  // Fewer cents are missing than there are non-zero remainders (the fractions sum to `missing` and
  // each is below 1), so a cent only ever goes to a share that was rounded down: none exceeds its weight.
  const order = weights
    .map((_, i) => i)
    .sort((i, j) => (remainders[i] === remainders[j] ? i - j : remainders[i] > remainders[j] ? -1 : 1));
  for (const i of order) {
    if (missing === 0n) break;
    parts[i] += 1n;
    missing -= 1n;
  }
  return parts.map(Number);
}

/**
 * Like `allocate`, but part i never exceeds caps[i] (caps[i] <= weights[i]): shares that would pass
 * their cap are filled to it and the rest is shared again among the others. Needs amount <= sum(caps).
 */
export function allocateCapped(amount: number, weights: number[], caps: number[]): number[] {
  if (caps.length !== weights.length) throw new RangeError('caps and weights differ in length');
  caps.forEach((c, i) => {
    requireAmount(c, `caps[${i}]`);
    if (c > weights[i]) throw new RangeError(`caps[${i}] exceeds its weight`);
  });
  requireAmount(amount, 'amount');
  if (amount > sum(caps))
    throw new RangeError(`cannot allocate ${amount} within caps totalling ${sum(caps)}`);
  const parts = weights.map(() => 0);
  let open = weights.map((_, i) => i).filter((i) => caps[i] > 0);
  let left = amount;
  // Each round either finishes or fills at least one part to its cap, so this ends within n rounds.
  while (left > 0) {
    const shares = allocate(
      left,
      open.map((i) => weights[i]),
    );
    const over = open.filter((i, k) => shares[k] > caps[i]);
    if (over.length === 0) {
      open.forEach((i, k) => (parts[i] = shares[k]));
      break;
    }
    for (const i of over) {
      parts[i] = caps[i];
      left -= caps[i];
    }
    open = open.filter((i) => !over.includes(i));
  }
  return parts;
}

export function price(input: PricingInput): PricingResult {
  validate(input);
  const { lines, now } = input;
  const subtotals = lines.map((l) => l.unitPrice * l.quantity);
  subtotals.forEach((s, i) => requireAmount(s, `lines[${i}] subtotal`));
  const subtotal = sum(subtotals);
  requireAmount(subtotal, 'cart subtotal');

  const remaining = [...subtotals];
  const promotionDiscount = lines.map(() => 0);
  const couponDiscount = lines.map(() => 0);
  const pointsDiscount = lines.map(() => 0);

  /** Takes `amount` off the given lines in proportion to what is left on them. */
  const takeOff = (amount: number, indexes: number[], into: number[]): void => {
    const parts = allocate(
      amount,
      indexes.map((i) => remaining[i]),
    );
    indexes.forEach((i, k) => {
      remaining[i] -= parts[k];
      into[i] += parts[k];
    });
  };

  const appliedPromotions: string[] = [];
  for (const promo of [...input.promotions].sort(promotionOrder)) {
    if (windowState(promo, now) !== null) continue;
    if (promo.minSubtotal !== null && subtotal < promo.minSubtotal) continue;
    const eligible = lines.map((l, i) => (covers(promo, l) ? i : -1)).filter((i) => i >= 0);
    if (eligible.length === 0) continue;
    const amount = discountOf(promo.kind, promo.value, sum(eligible.map((i) => remaining[i])));
    if (amount === 0) continue;
    takeOff(amount, eligible, promotionDiscount);
    appliedPromotions.push(promo.id);
  }

  let coupon: PricingResult['coupon'] = null;
  if (input.coupon) {
    const c = input.coupon;
    const reason =
      windowState(c, now) ?? (c.minSubtotal !== null && subtotal < c.minSubtotal ? 'MIN_SUBTOTAL' : null);
    if (reason) {
      coupon = { code: c.code, applied: false, reason };
    } else {
      const all = lines.map((_, i) => i);
      takeOff(discountOf(c.kind, c.value, sum(remaining)), all, couponDiscount);
      coupon = { code: c.code, applied: true };
    }
  }

  const groupIndexes = new Map<string, number[]>();
  lines.forEach((l, i) => {
    const g = groupIndexes.get(l.merchantId);
    if (g) g.push(i);
    else groupIndexes.set(l.merchantId, [i]);
  });
  const groupList = [...groupIndexes.entries()];
  const groupGoods = groupList.map(([, idx]) => sum(idx.map((i) => remaining[i])));

  const groupPoints = pointsPerGroup(input.points ?? null, groupGoods);
  const pointValue = input.points?.pointValue ?? 0;
  groupList.forEach(([, idx], g) => takeOff(groupPoints[g] * pointValue, idx, pointsDiscount));

  const pricedLines: PricedLine[] = lines.map((l, i) => {
    const discount = promotionDiscount[i] + couponDiscount[i];
    const total = subtotals[i] - discount - pointsDiscount[i];
    if (total !== remaining[i] || total < 0) throw new Error(`pricing invariant broken on line ${l.key}`);
    return {
      key: l.key,
      merchantId: l.merchantId,
      subtotal: subtotals[i],
      promotionDiscount: promotionDiscount[i],
      couponDiscount: couponDiscount[i],
      discount,
      pointsDiscount: pointsDiscount[i],
      total,
    };
  });

  const shipping = input.shipping ?? null;
  const groups: PricedGroup[] = groupList.map(([merchantId, idx], g) => {
    const own = idx.map((i) => pricedLines[i]);
    const shippingFee =
      shipping === null || (shipping.freeAbove !== null && groupGoods[g] >= shipping.freeAbove)
        ? 0
        : shipping.flatFee;
    return {
      merchantId,
      subtotal: sum(own.map((l) => l.subtotal)),
      discount: sum(own.map((l) => l.discount)),
      pointsDiscount: sum(own.map((l) => l.pointsDiscount)),
      pointsUsed: groupPoints[g],
      shippingFee,
      total: sum(own.map((l) => l.total)) + shippingFee,
      lines: own,
    };
  });

  return {
    lines: pricedLines,
    subtotal,
    discount: sum(pricedLines.map((l) => l.discount)),
    pointsDiscount: sum(pricedLines.map((l) => l.pointsDiscount)),
    pointsUsed: sum(groupPoints),
    shippingFee: sum(groups.map((g) => g.shippingFee)),
    total: sum(groups.map((g) => g.total)),
    appliedPromotions,
    coupon,
    groups,
  };
}

/** Whole points each group pays with: see rule 4 and 6 in the header. */
function pointsPerGroup(rule: PointsRule | null, groupGoods: number[]): number[] {
  if (rule === null || rule.points === 0 || groupGoods.length === 0) return groupGoods.map(() => 0);
  const value = BigInt(rule.pointValue);
  const goods = BigInt(sum(groupGoods));
  const byBalance = BigInt(rule.points) * value;
  const byShare = (goods * BigInt(rule.maxShareBps)) / BigInt(BPS_DENOMINATOR);
  const usable = byBalance < byShare ? byBalance : byShare;
  // A point is indivisible across orders, so each group can take only as many points as fit its goods.
  const caps = groupGoods.map((g) => Math.floor(g / rule.pointValue));
  const points = Math.min(Number(usable / value), sum(caps));
  return allocateCapped(points, groupGoods, caps);
}

function discountOf(kind: DiscountKind, value: number, base: number): number {
  if (kind === 'FIXED') return Math.min(value, base);
  return Number((BigInt(base) * BigInt(value)) / BigInt(BPS_DENOMINATOR));
}

function covers(promo: PromotionRule, line: PriceLine): boolean {
  if (promo.merchantId !== null && promo.merchantId !== line.merchantId) return false;
  return promo.collection === null || line.collections.includes(promo.collection);
}

/** null when `now` is inside [startsAt, endsAt). */
function windowState(
  rule: { startsAt: Date | null; endsAt: Date | null },
  now: Date,
): 'NOT_STARTED' | 'ENDED' | null {
  const t = now.getTime();
  if (rule.startsAt !== null && t < rule.startsAt.getTime()) return 'NOT_STARTED';
  if (rule.endsAt !== null && t >= rule.endsAt.getTime()) return 'ENDED';
  return null;
}

/**
 * PERCENT before FIXED, then oldest first: ids are compared as numbers when both are decimal
 * (database ids, so "9" before "10"), otherwise in code-unit order (locale-independent).
 */
function promotionOrder(a: PromotionRule, b: PromotionRule): number {
  if (a.kind !== b.kind) return a.kind === 'PERCENT' ? -1 : 1;
  if (/^\d+$/.test(a.id) && /^\d+$/.test(b.id) && a.id.length !== b.id.length)
    return a.id.length - b.id.length;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function requireAmount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

function requireDate(value: Date | null, what: string): void {
  if (value !== null && !(value instanceof Date && !Number.isNaN(value.getTime()))) {
    throw new RangeError(`${what} must be a valid Date`);
  }
}

function requireRule(
  rule: {
    kind: DiscountKind;
    value: number;
    minSubtotal: number | null;
    startsAt: Date | null;
    endsAt: Date | null;
  },
  what: string,
): void {
  if (rule.kind !== 'PERCENT' && rule.kind !== 'FIXED')
    throw new RangeError(`${what}.kind is not PERCENT or FIXED`);
  requireAmount(rule.value, `${what}.value`);
  if (rule.kind === 'PERCENT' && rule.value > BPS_DENOMINATOR) {
    throw new RangeError(`${what}.value is above 10000 basis points (100%)`);
  }
  if (rule.minSubtotal !== null) requireAmount(rule.minSubtotal, `${what}.minSubtotal`);
  requireDate(rule.startsAt, `${what}.startsAt`);
  requireDate(rule.endsAt, `${what}.endsAt`);
}

function validate(input: PricingInput): void {
  requireDate(input.now, 'now');
  const keys = new Set<string>();
  input.lines.forEach((l, i) => {
    requireAmount(l.unitPrice, `lines[${i}].unitPrice`);
    requireAmount(l.quantity, `lines[${i}].quantity`);
    if (keys.has(l.key)) throw new RangeError(`line key ${l.key} appears twice`);
    keys.add(l.key);
  });
  input.promotions.forEach((p, i) => requireRule(p, `promotions[${i}]`));
  if (input.coupon) requireRule(input.coupon, 'coupon');
  if (input.points) {
    requireAmount(input.points.points, 'points.points');
    requireAmount(input.points.pointValue, 'points.pointValue');
    if (input.points.pointValue === 0) throw new RangeError('points.pointValue must be at least 1');
    requireAmount(input.points.maxShareBps, 'points.maxShareBps');
    if (input.points.maxShareBps > BPS_DENOMINATOR) throw new RangeError('points.maxShareBps is above 10000');
  }
  if (input.shipping) {
    requireAmount(input.shipping.flatFee, 'shipping.flatFee');
    if (input.shipping.freeAbove !== null) requireAmount(input.shipping.freeAbove, 'shipping.freeAbove');
  }
}
