import {
  allocate,
  allocateCapped,
  CouponRule,
  DiscountKind,
  PointsRule,
  price,
  PriceLine,
  PricingInput,
  PricingResult,
  PromotionRule,
  ShippingRule,
} from '../../src/modules/pricing/pricing';

const NOW = new Date('2025-06-01T12:00:00.000Z');
const HOUR = 3_600_000;
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);

function line(key: string, unitPrice: number, quantity = 1, over: Partial<PriceLine> = {}): PriceLine {
  return { key, merchantId: 'm1', unitPrice, quantity, collections: [], ...over };
}

function promo(
  id: string,
  kind: DiscountKind,
  value: number,
  over: Partial<PromotionRule> = {},
): PromotionRule {
  return {
    id,
    name: id,
    kind,
    value,
    collection: null,
    merchantId: null,
    minSubtotal: null,
    startsAt: null,
    endsAt: null,
    ...over,
  };
}

function coupon(kind: DiscountKind, value: number, over: Partial<CouponRule> = {}): CouponRule {
  return { code: 'SAVE', kind, value, minSubtotal: null, startsAt: null, endsAt: null, ...over };
}

function run(input: Partial<PricingInput> & { lines: PriceLine[] }): PricingResult {
  return price({ promotions: [], coupon: null, now: NOW, ...input });
}

const byKey = (r: PricingResult, key: string) => {
  const found = r.lines.find((l) => l.key === key);
  if (!found) throw new Error(`no line ${key}`);
  return found;
};

describe('allocate', () => {
  test('zero amount gives zeros', () => {
    expect(allocate(0, [5, 7, 0])).toEqual([0, 0, 0]);
    expect(allocate(0, [])).toEqual([]);
  });

  test('zero weights take nothing; all-zero weights only allow zero', () => {
    expect(allocate(0, [0, 0])).toEqual([0, 0]);
    expect(allocate(1, [0, 5, 0])).toEqual([0, 1, 0]);
    expect(() => allocate(1, [0, 0])).toThrow(RangeError);
    expect(() => allocate(1, [])).toThrow(RangeError);
  });

  test('amount equal to the total gives each its weight', () => {
    expect(allocate(6, [1, 2, 3])).toEqual([1, 2, 3]);
    expect(allocate(2499, [1250, 1249])).toEqual([1250, 1249]);
  });

  test('exact proportions need no rounding', () => {
    expect(allocate(50, [100, 300, 100])).toEqual([10, 30, 10]);
  });

  test('remainders go to the largest fractions, ties to the earlier index', () => {
    // 2.1, 2.1, 2.8 -> 2, 2, 2 and one cent to the last
    expect(allocate(7, [3, 3, 4])).toEqual([2, 2, 3]);
    // 0.666.. each: ties, earlier first
    expect(allocate(2, [1, 1, 1])).toEqual([1, 1, 0]);
    // 349 x 2500/3499 = 249.357, 349 x 999/3499 = 99.643
    expect(allocate(349, [2500, 999])).toEqual([249, 100]);
  });

  test('never more than the total of the weights', () => {
    expect(() => allocate(7, [1, 2, 3])).toThrow(RangeError);
  });

  test('rejects negative, fractional and unsafe numbers', () => {
    expect(() => allocate(-1, [1])).toThrow(RangeError);
    expect(() => allocate(1.5, [2])).toThrow(RangeError);
    expect(() => allocate(1, [0.5, 1])).toThrow(RangeError);
    expect(() => allocate(1, [-1, 3])).toThrow(RangeError);
    expect(() => allocate(Number.NaN, [1])).toThrow(RangeError);
    expect(() => allocate(2 ** 53, [2 ** 53])).toThrow(RangeError);
  });

  test('huge amounts stay exact (products beyond 2^53)', () => {
    expect(allocate(1e11, [1e11, 1e11, 1e11])).toEqual([33_333_333_334, 33_333_333_333, 33_333_333_333]);
    // (1e11-1) x 1e11 / (1e11+1) = 1e11-2 remainder 2; (1e11-1) x 1 / (1e11+1) = 0 remainder 1e11-1
    expect(allocate(1e11 - 1, [1e11, 1])).toEqual([99_999_999_998, 1]);
    // quotas 5e10, 49_999_999_999.5 and 0.5: the tied half cent goes to the earlier index
    expect(allocate(1e11, [1e11, 1e11 - 1, 1])).toEqual([50_000_000_000, 50_000_000_000, 0]);
    const big = allocate(99_999_999_999, [1e11, 7, 3e10, 123_456_789_01]);
    expect(big.reduce((a, b) => a + b, 0)).toBe(99_999_999_999);
  });

  test('randomized: sums exactly, within one cent of the exact share, never above weight', () => {
    const rnd = mulberry32(7);
    for (let n = 0; n < 2000; n++) {
      const count = 1 + Math.floor(rnd() * 6);
      const scale = rnd() < 0.2 ? 1e11 : rnd() < 0.5 ? 1000 : 10;
      const weights = Array.from({ length: count }, () => (rnd() < 0.15 ? 0 : Math.floor(rnd() * scale)));
      const total = weights.reduce((a, b) => a + b, 0);
      const amount = Math.floor(rnd() * (total + 1));
      const parts = allocate(amount, weights);
      expect(parts.reduce((a, b) => a + b, 0)).toBe(amount);
      parts.forEach((p, i) => {
        expect(Number.isSafeInteger(p) && p >= 0 && p <= weights[i]).toBe(true);
        if (total > 0) {
          const exactFloor = (BigInt(amount) * BigInt(weights[i])) / BigInt(total);
          expect(BigInt(p) - exactFloor === 0n || BigInt(p) - exactFloor === 1n).toBe(true);
        }
      });
    }
  });
});

describe('allocateCapped', () => {
  test('fills capped parts and shares the rest among the others', () => {
    // plain shares of 3 over (150, 150) are 2 and 1
    expect(allocateCapped(3, [150, 150], [2, 2])).toEqual([2, 1]);
    expect(allocateCapped(3, [150, 150], [1, 2])).toEqual([1, 2]);
    expect(allocateCapped(3, [100, 100, 100], [0, 5, 5])).toEqual([0, 2, 1]);
    expect(allocateCapped(5, [900, 100], [3, 2])).toEqual([3, 2]);
    expect(() => allocateCapped(5, [900, 100], [3, 1])).toThrow(RangeError);
  });
});

describe('price: subtotals (rule 1)', () => {
  test('line subtotal is unit price x quantity; cart subtotal is their sum', () => {
    const r = run({ lines: [line('a', 1250, 2), line('b', 999, 1), line('c', 0, 3)] });
    expect(r.lines.map((l) => l.subtotal)).toEqual([2500, 999, 0]);
    expect(r).toMatchObject({
      subtotal: 3499,
      discount: 0,
      pointsDiscount: 0,
      pointsUsed: 0,
      shippingFee: 0,
    });
    expect(r.total).toBe(3499);
    expect(r.appliedPromotions).toEqual([]);
    expect(r.coupon).toBeNull();
  });

  test('an empty cart prices to zero with no groups', () => {
    const r = run({ lines: [], coupon: coupon('FIXED', 500), shipping: { flatFee: 800, freeAbove: null } });
    expect(r).toEqual({
      lines: [],
      subtotal: 0,
      discount: 0,
      pointsDiscount: 0,
      pointsUsed: 0,
      shippingFee: 0,
      total: 0,
      appliedPromotions: [],
      coupon: { code: 'SAVE', applied: true },
      groups: [],
    });
  });
});

describe('price: promotions (rule 2)', () => {
  test('a percent promotion takes floor(eligible x bps / 10000), shared by remaining amount', () => {
    const r = run({ lines: [line('a', 1250, 2), line('b', 999)], promotions: [promo('p', 'PERCENT', 1000)] });
    // 10% of 3499 = 349.9 -> 349, shared 249 / 100
    expect(r.discount).toBe(349);
    expect(r.lines.map((l) => l.promotionDiscount)).toEqual([249, 100]);
    expect(r.lines.map((l) => l.total)).toEqual([2251, 899]);
    expect(r.total).toBe(3150);
    expect(r.appliedPromotions).toEqual(['p']);
  });

  test('a fixed promotion takes its value, capped at the eligible amount', () => {
    const lines = [
      line('shoe', 3000, 1, { collections: ['shoes'] }),
      line('sock', 1000, 1, { collections: ['socks'] }),
    ];
    const r = run({ lines, promotions: [promo('f', 'FIXED', 500, { collection: 'shoes' })] });
    expect(byKey(r, 'shoe').promotionDiscount).toBe(500);
    expect(byKey(r, 'sock').promotionDiscount).toBe(0);
    expect(r.total).toBe(3500);

    const capped = run({ lines, promotions: [promo('f', 'FIXED', 5000, { collection: 'socks' })] });
    expect(byKey(capped, 'sock')).toMatchObject({ promotionDiscount: 1000, total: 0 });
    expect(byKey(capped, 'shoe').promotionDiscount).toBe(0);
    expect(capped.total).toBe(3000);
  });

  test('collection scoping covers lines in any of their collections', () => {
    const lines = [
      line('a', 2000, 1, { collections: ['summer', 'shoes'] }),
      line('b', 1000, 1, { collections: ['shoes'] }),
      line('c', 5000, 1, { collections: ['hats'] }),
    ];
    const r = run({ lines, promotions: [promo('p', 'PERCENT', 2500, { collection: 'shoes' })] });
    // 25% of 3000 = 750, shared 500 / 250
    expect(r.lines.map((l) => l.promotionDiscount)).toEqual([500, 250, 0]);
  });

  test("a merchant's promotion covers only that merchant's lines; a platform one covers all", () => {
    const lines = [
      line('a', 4000, 1, { merchantId: 'm1', collections: ['x'] }),
      line('b', 6000, 1, { merchantId: 'm2', collections: ['x'] }),
      line('c', 1000, 1, { merchantId: 'm1' }),
    ];
    const own = run({ lines, promotions: [promo('p', 'PERCENT', 1000, { merchantId: 'm1' })] });
    expect(own.lines.map((l) => l.promotionDiscount)).toEqual([400, 0, 100]);

    const scoped = run({
      lines,
      promotions: [promo('p', 'FIXED', 300, { merchantId: 'm1', collection: 'x' })],
    });
    expect(scoped.lines.map((l) => l.promotionDiscount)).toEqual([300, 0, 0]);

    const platform = run({ lines, promotions: [promo('p', 'FIXED', 1100)] });
    // 1100 over 4000 / 6000 / 1000
    expect(platform.lines.map((l) => l.promotionDiscount)).toEqual([400, 600, 100]);
  });

  test('a promotion with no eligible line does not apply', () => {
    const lines = [line('a', 1000, 1, { merchantId: 'm1', collections: ['x'] })];
    const r = run({
      lines,
      promotions: [
        promo('other-merchant', 'PERCENT', 1000, { merchantId: 'm2' }),
        promo('other-col', 'FIXED', 100, { collection: 'y' }),
      ],
    });
    expect(r.discount).toBe(0);
    expect(r.appliedPromotions).toEqual([]);
  });

  test('minSubtotal compares with the whole cart subtotal before discounts (inclusive)', () => {
    const p = promo('p', 'FIXED', 100, { minSubtotal: 5000 });
    expect(run({ lines: [line('a', 4999)], promotions: [p] }).discount).toBe(0);
    expect(run({ lines: [line('a', 5000)], promotions: [p] }).discount).toBe(100);
    // merchant-scoped promotion: m1's own lines are only 1000, but the cart reaches 5000
    const scoped = promo('s', 'FIXED', 100, { merchantId: 'm1', minSubtotal: 5000 });
    const r = run({
      lines: [line('a', 1000), line('b', 4000, 1, { merchantId: 'm2' })],
      promotions: [scoped],
    });
    expect(r.lines.map((l) => l.promotionDiscount)).toEqual([100, 0]);
    // an earlier promotion does not lower the subtotal used for the threshold
    const both = run({
      lines: [line('a', 5000)],
      promotions: [promo('a-pct', 'PERCENT', 5000), p],
    });
    expect(both.discount).toBe(2600);
  });

  test('the window is [startsAt, endsAt), open where null', () => {
    const priceWith = (startsAt: Date | null, endsAt: Date | null) =>
      run({ lines: [line('a', 1000)], promotions: [promo('p', 'FIXED', 100, { startsAt, endsAt })] })
        .discount;
    expect(priceWith(NOW, null)).toBe(100);
    expect(priceWith(at(1), null)).toBe(0);
    expect(priceWith(null, NOW)).toBe(0);
    expect(priceWith(null, at(1))).toBe(100);
    expect(priceWith(at(-HOUR), at(HOUR))).toBe(100);
    expect(priceWith(at(-2 * HOUR), at(-HOUR))).toBe(0);
    expect(priceWith(at(HOUR), at(2 * HOUR))).toBe(0);
    expect(priceWith(null, null)).toBe(100);
  });

  test('stacking: PERCENT before FIXED whatever the input order, each on what is left', () => {
    const lines = [line('a', 10000)];
    const r = run({ lines, promotions: [promo('a-fixed', 'FIXED', 1000), promo('z-pct', 'PERCENT', 1000)] });
    // 10% of 10000 = 1000, then 1000 fixed (fixed first would have given 1000 + 900)
    expect(r.discount).toBe(2000);
    expect(r.appliedPromotions).toEqual(['z-pct', 'a-fixed']);
  });

  test('stacking: percentages compound, ordered by id', () => {
    const r = run({
      lines: [line('a', 10000)],
      promotions: [promo('p2', 'PERCENT', 2000), promo('p1', 'PERCENT', 1000)],
    });
    // 10% of 10000 = 1000, then 20% of 9000 = 1800
    expect(r.discount).toBe(2800);
    expect(r.appliedPromotions).toEqual(['p1', 'p2']);
    // decimal ids (database ids) compare as numbers; others by code unit, never by locale
    const ids = run({
      lines: [line('a', 10000)],
      promotions: [
        promo('9', 'FIXED', 1),
        promo('10', 'FIXED', 1),
        promo('B', 'FIXED', 1),
        promo('a', 'FIXED', 1),
      ],
    });
    expect(ids.appliedPromotions).toEqual(['9', '10', 'B', 'a']);
  });

  test('order matters with rounding: the id decides which one rounds first', () => {
    // p-a 33.33% of 1001 = 333 (333.633), then p-b 50% of 668 = 334: 667
    // the other way: 50% of 1001 = 500, then 33.33% of 501 = 166 (166.98): 666
    const r = run({
      lines: [line('a', 1001)],
      promotions: [promo('p-b', 'PERCENT', 5000), promo('p-a', 'PERCENT', 3333)],
    });
    expect(r.discount).toBe(667);
    const swapped = run({
      lines: [line('a', 1001)],
      promotions: [promo('p-a', 'PERCENT', 5000), promo('p-b', 'PERCENT', 3333)],
    });
    expect(swapped.discount).toBe(666);
  });

  test('a promotion that takes nothing is not listed', () => {
    const r = run({
      lines: [line('a', 9), line('b', 1000, 1, { collections: ['x'] })],
      promotions: [
        promo('tiny', 'PERCENT', 1000, { collection: null, merchantId: 'm2' }),
        promo('all', 'PERCENT', 10000, { collection: 'x' }),
        promo('after', 'FIXED', 50, { collection: 'x' }),
        promo('zero', 'FIXED', 0),
      ],
    });
    expect(r.appliedPromotions).toEqual(['all']);
    expect(byKey(r, 'b')).toMatchObject({ promotionDiscount: 1000, total: 0 });
    // 10% of 5 cents rounds to nothing
    expect(
      run({ lines: [line('a', 5)], promotions: [promo('p', 'PERCENT', 1000)] }).appliedPromotions,
    ).toEqual([]);
  });

  test('a later promotion is shared by what earlier ones left on each line', () => {
    const lines = [line('a', 1000, 1, { collections: ['x'] }), line('b', 1000)];
    const r = run({
      lines,
      promotions: [promo('a', 'PERCENT', 5000, { collection: 'x' }), promo('b', 'FIXED', 300)],
    });
    // after 'a': 500 / 1000 left; 300 over that: 100 / 200
    expect(r.lines.map((l) => l.promotionDiscount)).toEqual([600, 200]);
  });
});

describe('price: coupon (rule 3)', () => {
  const lines = [line('shoe', 6000, 1, { collections: ['shoes'] }), line('hat', 4000)];
  const tenPctShoes = promo('p', 'PERCENT', 1000, { collection: 'shoes' });

  test('applies after promotions on the whole remaining cart', () => {
    const r = run({ lines, promotions: [tenPctShoes], coupon: coupon('PERCENT', 1000) });
    // promotion 600 on the shoe; 9400 left; coupon 940 shared 540 / 400
    expect(r.lines.map((l) => [l.promotionDiscount, l.couponDiscount, l.discount, l.total])).toEqual([
      [600, 540, 1140, 4860],
      [0, 400, 400, 3600],
    ]);
    expect(r.discount).toBe(1540);
    expect(r.total).toBe(8460);
    expect(r.coupon).toEqual({ code: 'SAVE', applied: true });
  });

  test('a fixed coupon is capped at what is left', () => {
    const r = run({
      lines: [line('a', 1000)],
      promotions: [promo('p', 'FIXED', 700)],
      coupon: coupon('FIXED', 500),
    });
    expect(byKey(r, 'a')).toMatchObject({
      promotionDiscount: 700,
      couponDiscount: 300,
      discount: 1000,
      total: 0,
    });
    expect(r.coupon).toEqual({ code: 'SAVE', applied: true });
  });

  test('minSubtotal uses the subtotal before discounts', () => {
    const r = run({
      lines: [line('a', 5000)],
      promotions: [promo('p', 'PERCENT', 2000)],
      coupon: coupon('FIXED', 500, { minSubtotal: 5000 }),
    });
    expect(r.coupon).toEqual({ code: 'SAVE', applied: true });
    expect(r.discount).toBe(1500);
  });

  test('reasons when it does not apply', () => {
    const rejected = (c: CouponRule) => run({ lines: [line('a', 4000)], coupon: c });
    const notYet = rejected(coupon('FIXED', 500, { startsAt: at(1) }));
    expect(notYet.coupon).toEqual({ code: 'SAVE', applied: false, reason: 'NOT_STARTED' });
    expect(notYet.discount).toBe(0);
    expect(rejected(coupon('FIXED', 500, { endsAt: NOW })).coupon).toEqual({
      code: 'SAVE',
      applied: false,
      reason: 'ENDED',
    });
    expect(rejected(coupon('FIXED', 500, { minSubtotal: 4001 })).coupon).toEqual({
      code: 'SAVE',
      applied: false,
      reason: 'MIN_SUBTOTAL',
    });
    // the window is reported before the minimum
    expect(rejected(coupon('FIXED', 500, { endsAt: at(-1), minSubtotal: 9999 })).coupon?.reason).toBe(
      'ENDED',
    );
    expect(
      rejected(coupon('FIXED', 500, { startsAt: NOW, endsAt: at(1), minSubtotal: 4000 })).coupon,
    ).toEqual({
      code: 'SAVE',
      applied: true,
    });
  });
});

describe('price: points (rule 4)', () => {
  const points = (p: number, pointValue: number, maxShareBps: number): PointsRule => ({
    points: p,
    pointValue,
    maxShareBps,
  });

  test('limited by the balance', () => {
    const r = run({ lines: [line('a', 3000)], points: points(1000, 1, 5000) });
    expect(r).toMatchObject({ pointsUsed: 1000, pointsDiscount: 1000, total: 2000 });
  });

  test('limited by the share of the goods total after discounts', () => {
    const r = run({ lines: [line('a', 3000)], points: points(5000, 1, 5000) });
    expect(r).toMatchObject({ pointsUsed: 1500, pointsDiscount: 1500, total: 1500 });
    // share after discounts: 10% promo leaves 2700, half of it is 1350
    const d = run({
      lines: [line('a', 3000)],
      promotions: [promo('p', 'PERCENT', 1000)],
      points: points(5000, 1, 5000),
    });
    expect(d).toMatchObject({ discount: 300, pointsUsed: 1350, pointsDiscount: 1350, total: 1350 });
    // floor(999 x 3333 / 10000) = 332
    expect(run({ lines: [line('a', 999)], points: points(5000, 1, 3333) }).pointsDiscount).toBe(332);
  });

  test('whole points only', () => {
    // 1 point = 100 cents; 2550 of goods allows 25 whole points
    const r = run({ lines: [line('a', 2550)], points: points(100, 100, 10000) });
    expect(r).toMatchObject({ pointsUsed: 25, pointsDiscount: 2500, total: 50 });
    // half of 2550 is 1275: 12 points
    expect(run({ lines: [line('a', 2550)], points: points(100, 100, 5000) }).pointsUsed).toBe(12);
  });

  test('shared over lines by what is left on each', () => {
    const r = run({
      lines: [line('a', 1000, 1, { collections: ['x'] }), line('b', 1000)],
      promotions: [promo('p', 'PERCENT', 5000, { collection: 'x' })],
      points: points(300, 1, 10000),
    });
    // left: 500 / 1000; 300 points -> 100 / 200
    expect(r.lines.map((l) => [l.pointsDiscount, l.total])).toEqual([
      [100, 400],
      [200, 800],
    ]);
  });

  test('no rule, zero points or zero share use nothing', () => {
    expect(run({ lines: [line('a', 1000)], points: null }).pointsUsed).toBe(0);
    expect(run({ lines: [line('a', 1000)], points: points(0, 1, 10000) }).pointsUsed).toBe(0);
    expect(run({ lines: [line('a', 1000)], points: points(500, 1, 0) }).pointsUsed).toBe(0);
  });
});

describe('price: lines, groups and shipping (rules 5-7)', () => {
  test('groups follow the order of first appearance and split whole points', () => {
    const lines = [
      line('a', 2000, 1, { merchantId: 'm2' }),
      line('b', 1000, 1, { merchantId: 'm1' }),
      line('c', 1000, 1, { merchantId: 'm2' }),
    ];
    const r = run({ lines, points: { points: 35, pointValue: 10, maxShareBps: 10000 } });
    expect(r.groups.map((g) => g.merchantId)).toEqual(['m2', 'm1']);
    expect(r.groups.map((g) => g.lines.map((l) => l.key))).toEqual([['a', 'c'], ['b']]);
    // 35 points over goods 3000 / 1000: 26.25 / 8.75 -> 26 / 9
    expect(r.groups.map((g) => [g.pointsUsed, g.pointsDiscount])).toEqual([
      [26, 260],
      [9, 90],
    ]);
    // m2's 260 over its lines 2000 / 1000: 173.33 / 86.67 -> 173 / 87
    expect(r.lines.map((l) => l.pointsDiscount)).toEqual([173, 90, 87]);
    expect(r).toMatchObject({ pointsUsed: 35, pointsDiscount: 350, total: 3650 });
    expect(r.groups.map((g) => g.total)).toEqual([2740, 910]);
  });

  test('a group takes no more whole points than fit its goods; the cart then uses fewer', () => {
    const lines = [line('a', 150, 1, { merchantId: 'm1' }), line('b', 150, 1, { merchantId: 'm2' })];
    const r = run({ lines, points: { points: 10, pointValue: 100, maxShareBps: 10000 } });
    // 300 cents would allow 3 points, but each order can hold only one 100-cent point
    expect(r.groups.map((g) => g.pointsUsed)).toEqual([1, 1]);
    expect(r).toMatchObject({ pointsUsed: 2, pointsDiscount: 200, total: 100 });
  });

  test('shipping per group: flat fee unless goods after discounts reach the threshold', () => {
    const shipping: ShippingRule = { flatFee: 800, freeAbove: 5000 };
    const lines = [
      line('a', 5000, 1, { merchantId: 'm1' }),
      line('b', 4999, 1, { merchantId: 'm2' }),
      line('c', 5500, 1, { merchantId: 'm3', collections: ['sale'] }),
    ];
    const r = run({ lines, shipping, promotions: [promo('p', 'PERCENT', 1000, { collection: 'sale' })] });
    // m3: 5500 - 550 = 4950 < 5000
    expect(r.groups.map((g) => g.shippingFee)).toEqual([0, 800, 800]);
    expect(r.groups.map((g) => g.total)).toEqual([5000, 5799, 5750]);
    expect(r).toMatchObject({ shippingFee: 1600, total: 16549, subtotal: 15499, discount: 550 });
  });

  test('the threshold is checked before points', () => {
    const r = run({
      lines: [line('a', 5000)],
      shipping: { flatFee: 800, freeAbove: 5000 },
      points: { points: 1000, pointValue: 1, maxShareBps: 10000 },
    });
    expect(r).toMatchObject({ shippingFee: 0, pointsDiscount: 1000, total: 4000 });
  });

  test('freeAbove null always charges; no rule never charges', () => {
    const lines = [line('a', 100000)];
    expect(run({ lines, shipping: { flatFee: 800, freeAbove: null } })).toMatchObject({
      shippingFee: 800,
      total: 100800,
    });
    expect(run({ lines, shipping: null }).shippingFee).toBe(0);
    expect(run({ lines }).shippingFee).toBe(0);
  });

  test('several merchants, everything together', () => {
    const lines = [
      line('m1-shoe', 4500, 2, { merchantId: 'm1', collections: ['shoes'] }),
      line('m2-hat', 2500, 1, { merchantId: 'm2', collections: ['hats'] }),
      line('m1-sock', 300, 3, { merchantId: 'm1', collections: ['socks'] }),
      line('m3-belt', 1999, 1, { merchantId: 'm3' }),
    ];
    const input: PricingInput = {
      lines,
      promotions: [
        promo('shoes15', 'PERCENT', 1500, { collection: 'shoes' }),
        promo('m2-off', 'FIXED', 500, { merchantId: 'm2' }),
        promo('late', 'FIXED', 999, { startsAt: at(HOUR) }),
      ],
      coupon: coupon('FIXED', 1000, { minSubtotal: 10000 }),
      points: { points: 5000, pointValue: 1, maxShareBps: 2000 },
      shipping: { flatFee: 600, freeAbove: 5000 },
      now: NOW,
    };
    const r = price(input);
    // subtotal 9000 + 2500 + 900 + 1999 = 14399
    // shoes15: 15% of 9000 = 1350 ; m2-off: 500 ; late: not started
    // left: 7650 / 2000 / 900 / 1999 = 12549; coupon 1000 -> 609.610 / 159.375 / 71.719 / 159.295
    //   floors 609 / 159 / 71 / 159 = 998; +1 to m1-sock (.719), +1 to m1-shoe (.610) -> 610 / 159 / 72 / 159
    // left: 7040 / 1841 / 828 / 1840 = 11549; points max 20% = 2309 -> 2309 points
    // groups m1 7868, m2 1841, m3 1840: 2309 x ... = 1573.03 / 368.04 / 367.87 -> 1573 / 368 / 368
    // m1's 1573 over 7040 / 828: 1407.46 / 165.54 -> 1407 / 166
    // shipping: m1 7868 >= 5000 free; m2 1841 and m3 1840 pay 600
    expect(r.subtotal).toBe(14399);
    expect(r.appliedPromotions).toEqual(['shoes15', 'm2-off']);
    expect(
      r.lines.map((l) => [l.key, l.promotionDiscount, l.couponDiscount, l.pointsDiscount, l.total]),
    ).toEqual([
      ['m1-shoe', 1350, 610, 1407, 5633],
      ['m2-hat', 500, 159, 368, 1473],
      ['m1-sock', 0, 72, 166, 662],
      ['m3-belt', 0, 159, 368, 1472],
    ]);
    expect(
      r.groups.map((g) => [
        g.merchantId,
        g.subtotal,
        g.discount,
        g.pointsUsed,
        g.pointsDiscount,
        g.shippingFee,
        g.total,
      ]),
    ).toEqual([
      ['m1', 9900, 2032, 1573, 1573, 0, 6295],
      ['m2', 2500, 659, 368, 368, 600, 2073],
      ['m3', 1999, 159, 368, 368, 600, 2072],
    ]);
    expect(r).toMatchObject({
      discount: 2850,
      pointsUsed: 2309,
      pointsDiscount: 2309,
      shippingFee: 1200,
      total: 10440,
    });
    expect(r.coupon).toEqual({ code: 'SAVE', applied: true });
    assertInvariants(input, r);
  });

  test('does not modify its input and is deterministic', () => {
    const input: PricingInput = {
      lines: [line('a', 1000, 2, { collections: ['x'] }), line('b', 700, 1, { merchantId: 'm2' })],
      promotions: [promo('b', 'FIXED', 300), promo('a', 'PERCENT', 1000, { collection: 'x' })],
      coupon: coupon('PERCENT', 500),
      points: { points: 100, pointValue: 1, maxShareBps: 10000 },
      shipping: { flatFee: 500, freeAbove: 1500 },
      now: NOW,
    };
    const before = JSON.stringify(input);
    const first = price(input);
    expect(JSON.stringify(input)).toBe(before);
    expect(price(input)).toEqual(first);
    expect(price({ ...input, promotions: [...input.promotions].reverse() })).toEqual(first);
  });
});

describe('price: rejects invalid input', () => {
  const ok = (): PricingInput => ({ lines: [line('a', 1000)], promotions: [], coupon: null, now: NOW });
  test.each<[string, (i: PricingInput) => void]>([
    ['fractional price', (i) => (i.lines[0].unitPrice = 10.5)],
    ['negative quantity', (i) => (i.lines[0].quantity = -1)],
    ['duplicate keys', (i) => i.lines.push(line('a', 1))],
    ['unsafe subtotal', (i) => (i.lines[0] = line('a', 2 ** 40, 2 ** 20))],
    ['percent above 100%', (i) => i.promotions.push(promo('p', 'PERCENT', 10001))],
    ['negative fixed', (i) => (i.coupon = coupon('FIXED', -5))],
    ['unknown kind', (i) => i.promotions.push(promo('p', 'HALF' as DiscountKind, 1))],
    ['invalid date', (i) => i.promotions.push(promo('p', 'FIXED', 1, { startsAt: new Date('nope') }))],
    ['invalid now', (i) => (i.now = new Date(Number.NaN))],
    ['zero point value', (i) => (i.points = { points: 1, pointValue: 0, maxShareBps: 100 })],
    ['share above 100%', (i) => (i.points = { points: 1, pointValue: 1, maxShareBps: 10001 })],
    ['negative shipping', (i) => (i.shipping = { flatFee: -1, freeAbove: null })],
  ])('%s', (_name, spoil) => {
    const input = ok();
    spoil(input);
    expect(() => price(input)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------- properties

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Throws with both values when an invariant does not hold (plain checks: jest's expect is slow in a hot loop). */
function check(ok: boolean, what: string, detail?: unknown): void {
  if (!ok)
    throw new Error(`invariant broken: ${what}${detail === undefined ? '' : ` ${JSON.stringify(detail)}`}`);
}
const eq = (actual: unknown, expected: unknown, what: string): void =>
  check(JSON.stringify(actual) === JSON.stringify(expected), what, { actual, expected });

function assertInvariants(input: PricingInput, r: PricingResult): void {
  const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const amounts: number[] = [r.subtotal, r.discount, r.pointsDiscount, r.pointsUsed, r.shippingFee, r.total];
  for (const l of r.lines)
    amounts.push(l.subtotal, l.promotionDiscount, l.couponDiscount, l.discount, l.pointsDiscount, l.total);
  for (const g of r.groups)
    amounts.push(g.subtotal, g.discount, g.pointsDiscount, g.pointsUsed, g.shippingFee, g.total);
  for (const a of amounts)
    check(Number.isSafeInteger(a) && a >= 0 && !Object.is(a, -0), 'non-negative integer', a);

  eq(
    r.lines.map((l) => l.key),
    input.lines.map((l) => l.key),
    'lines in input order',
  );
  r.lines.forEach((l, i) => {
    const src = input.lines[i];
    eq(l.merchantId, src.merchantId, 'line merchant');
    eq(l.subtotal, src.unitPrice * src.quantity, 'line subtotal');
    eq(l.discount, l.promotionDiscount + l.couponDiscount, 'line discount');
    check(l.discount <= l.subtotal, 'line discount <= subtotal', l);
    eq(l.total, l.subtotal - l.discount - l.pointsDiscount, 'line total');
    check(l.total >= 0, 'line total >= 0', l);
  });

  eq(r.subtotal, sumOf(r.lines.map((l) => l.subtotal)), 'subtotal');
  eq(r.discount, sumOf(r.lines.map((l) => l.discount)), 'discount');
  check(r.discount <= r.subtotal, 'discount <= subtotal');
  eq(r.pointsDiscount, sumOf(r.lines.map((l) => l.pointsDiscount)), 'pointsDiscount');
  eq(r.shippingFee, sumOf(r.groups.map((g) => g.shippingFee)), 'shippingFee');
  eq(r.total, sumOf(r.lines.map((l) => l.total)) + r.shippingFee, 'line totals + shipping = total');
  eq(r.total, sumOf(r.groups.map((g) => g.total)), 'group totals = total');
  eq(r.pointsUsed, sumOf(r.groups.map((g) => g.pointsUsed)), 'group points = pointsUsed');

  // groups: order of first appearance, each line exactly once
  eq(
    r.groups.map((g) => g.merchantId),
    [...new Set(input.lines.map((l) => l.merchantId))],
    'groups in order of first appearance',
  );
  eq(
    r.groups.flatMap((g) => g.lines.map((l) => l.key)).sort(),
    input.lines.map((l) => l.key).sort(),
    'every line in one group',
  );
  const shipping = input.shipping ?? null;
  for (const g of r.groups) {
    for (const l of g.lines) eq(l.merchantId, g.merchantId, 'group line merchant');
    eq(g.subtotal, sumOf(g.lines.map((l) => l.subtotal)), 'group subtotal');
    eq(g.discount, sumOf(g.lines.map((l) => l.discount)), 'group discount');
    check(g.discount <= g.subtotal, 'group discount <= subtotal', g);
    eq(g.pointsDiscount, sumOf(g.lines.map((l) => l.pointsDiscount)), 'group pointsDiscount');
    eq(g.total, sumOf(g.lines.map((l) => l.total)) + g.shippingFee, 'group total');
    const goods = g.subtotal - g.discount;
    const free = shipping === null || (shipping.freeAbove !== null && goods >= shipping.freeAbove);
    eq(g.shippingFee, free ? 0 : shipping.flatFee, 'group shipping');
  }

  // points: whole points, within balance and share, exact per group
  const rule = input.points ?? null;
  if (rule === null || rule.points === 0) {
    eq([r.pointsUsed, r.pointsDiscount], [0, 0], 'no points');
  } else {
    eq(r.pointsDiscount, r.pointsUsed * rule.pointValue, 'pointsDiscount = pointsUsed x pointValue');
    for (const g of r.groups)
      eq(g.pointsDiscount, g.pointsUsed * rule.pointValue, 'group pointsDiscount = its points x pointValue');
    check(r.pointsUsed <= rule.points, 'points within balance');
    const goods = r.subtotal - r.discount;
    const share = (BigInt(goods) * BigInt(rule.maxShareBps)) / 10000n;
    check(BigInt(r.pointsDiscount) <= share, 'points within share');
    // the only reason to use fewer points than balance and share allow: no group can hold another point
    const balance = BigInt(rule.points) * BigInt(rule.pointValue);
    const wanted = Number((balance < share ? balance : share) / BigInt(rule.pointValue));
    if (r.pointsUsed < wanted) {
      for (const g of r.groups)
        check(g.subtotal - g.discount - g.pointsDiscount < rule.pointValue, 'group full of points', g);
    } else {
      eq(r.pointsUsed, wanted, 'points used');
    }
  }

  // promotions: listed once each, in application order, only existing ones
  const promotion = (id: string) => {
    const p = input.promotions.find((x) => x.id === id);
    if (!p) throw new Error(`unknown promotion ${id}`);
    return p;
  };
  for (let i = 1; i < r.appliedPromotions.length; i++) {
    const a = promotion(r.appliedPromotions[i - 1]);
    const b = promotion(r.appliedPromotions[i]);
    check(a.kind === b.kind ? a.id < b.id : a.kind === 'PERCENT', 'promotion order', r.appliedPromotions);
  }
  if (r.appliedPromotions.length === 0)
    eq(sumOf(r.lines.map((l) => l.promotionDiscount)), 0, 'no promotion, no promotion discount');

  // coupon
  if (input.coupon === null) {
    eq(r.coupon, null, 'no coupon');
    eq(sumOf(r.lines.map((l) => l.couponDiscount)), 0, 'no coupon, no coupon discount');
  } else {
    const c = input.coupon;
    const t = input.now.getTime();
    const reason =
      c.startsAt && t < c.startsAt.getTime()
        ? 'NOT_STARTED'
        : c.endsAt && t >= c.endsAt.getTime()
          ? 'ENDED'
          : c.minSubtotal !== null && r.subtotal < c.minSubtotal
            ? 'MIN_SUBTOTAL'
            : undefined;
    eq(
      r.coupon,
      reason ? { code: c.code, applied: false, reason } : { code: c.code, applied: true },
      'coupon',
    );
    if (reason) eq(sumOf(r.lines.map((l) => l.couponDiscount)), 0, 'rejected coupon takes nothing');
  }
}

describe('price: randomized invariants', () => {
  test('2,500 random carts keep every invariant', () => {
    const rnd = mulberry32(20250601);
    const int = (max: number) => Math.floor(rnd() * (max + 1));
    const pick = <T>(xs: T[]): T => xs[int(xs.length - 1)];
    const maybeDate = (): Date | null => (rnd() < 0.5 ? null : at((int(4) - 2) * HOUR + pick([-1, 0, 1])));
    const collections = ['shoes', 'hats', 'socks', 'sale'];
    const merchants = ['m1', 'm2', 'm3', 'm4'];
    const money = (): number => pick([int(10), int(1000), int(100000), int(10_000_000), int(10_000_000_000)]);
    const kindValue = (): { kind: DiscountKind; value: number } =>
      rnd() < 0.5
        ? { kind: 'PERCENT', value: pick([int(10000), 10000, 0, 1, 3333, 2500]) }
        : { kind: 'FIXED', value: money() };

    // how often each situation came up: the generator must reach every rule, not just price empty carts
    const seen = {
      stackedPromotions: 0,
      couponApplied: 0,
      NOT_STARTED: 0,
      ENDED: 0,
      MIN_SUBTOTAL: 0,
      points: 0,
      pointsLimitedByGroups: 0,
      freeShipping: 0,
      paidShipping: 0,
      severalMerchants: 0,
      zeroLineTotal: 0,
    };
    let priced = 0;
    for (let n = 0; n < 2500; n++) {
      const lines: PriceLine[] = Array.from({ length: int(7) }, (_, i) => ({
        key: `l${i}`,
        merchantId: pick(merchants),
        unitPrice: money(),
        quantity: rnd() < 0.1 ? 0 : 1 + int(rnd() < 0.2 ? 1000 : 4),
        collections: collections.filter(() => rnd() < 0.35),
      }));
      const promotions: PromotionRule[] = Array.from({ length: int(5) }, (_, i) => ({
        id: `p${int(20)}-${i}`,
        name: 'random',
        ...kindValue(),
        collection: rnd() < 0.5 ? null : pick(collections),
        merchantId: rnd() < 0.5 ? null : pick(merchants),
        minSubtotal: rnd() < 0.6 ? null : money(),
        startsAt: maybeDate(),
        endsAt: maybeDate(),
      }));
      const c: CouponRule | null =
        rnd() < 0.3
          ? null
          : {
              code: `C${n}`,
              ...kindValue(),
              minSubtotal: rnd() < 0.5 ? null : money(),
              startsAt: maybeDate(),
              endsAt: maybeDate(),
            };
      const points: PointsRule | null =
        rnd() < 0.3
          ? null
          : {
              points: pick([0, int(100), int(100000), int(1e9)]),
              pointValue: pick([1, 1, 10, 100, 1 + int(999)]),
              maxShareBps: pick([int(10000), 10000, 5000, 0]),
            };
      const shipping: ShippingRule | null =
        rnd() < 0.3
          ? null
          : { flatFee: pick([0, 500, int(5000)]), freeAbove: rnd() < 0.3 ? null : pick([0, money()]) };
      const input: PricingInput = {
        lines,
        promotions,
        coupon: c,
        points: rnd() < 0.1 ? undefined : points,
        shipping,
        now: NOW,
      };

      try {
        const r = price(input);
        assertInvariants(input, r);
        eq(
          price({ ...input, promotions: [...promotions].reverse() }),
          r,
          'promotion input order is irrelevant',
        );
        if (r.appliedPromotions.length > 1) seen.stackedPromotions++;
        if (r.coupon?.applied && r.lines.some((l) => l.couponDiscount > 0)) seen.couponApplied++;
        if (r.coupon?.reason) seen[r.coupon.reason]++;
        if (r.pointsUsed > 0) seen.points++;
        const rule = input.points;
        if (rule && r.pointsUsed < rule.points && r.groups.length > 1) {
          const share =
            (BigInt(r.subtotal - r.discount) * BigInt(rule.maxShareBps)) / 10000n / BigInt(rule.pointValue);
          if (BigInt(r.pointsUsed) < share) seen.pointsLimitedByGroups++;
        }
        if (r.groups.some((g) => g.shippingFee === 0) && shipping) seen.freeShipping++;
        if (r.groups.some((g) => g.shippingFee > 0)) seen.paidShipping++;
        if (r.groups.length > 1) seen.severalMerchants++;
        if (r.lines.some((l) => l.subtotal > 0 && l.total === 0)) seen.zeroLineTotal++;
      } catch (e) {
        throw new Error(`cart ${n}: ${(e as Error).message}\n${JSON.stringify(input)}`);
      }
      priced++;
    }
    expect(priced).toBe(2500);
    for (const [situation, count] of Object.entries(seen))
      expect([situation, count > 5]).toEqual([situation, true]);
  });
});
