import 'reflect-metadata';
import {
  afterSaleLifecycles,
  AfterSaleKind,
  AfterSaleStatus,
  prorate,
  requestRefusal,
} from '../../src/modules/aftersale/aftersale.lifecycle';
import { OrderStatus } from '../../src/modules/order/order.lifecycle';

const S = AfterSaleStatus;
const T = AfterSaleKind;
const ALL = Object.values(AfterSaleStatus);

/** The intended lifecycles, written out independently of the implementation. */
const ALLOWED: Record<AfterSaleKind, Partial<Record<AfterSaleStatus, AfterSaleStatus[]>>> = {
  REFUND_ONLY: {
    REQUESTED: [S.APPROVED, S.REJECTED, S.CANCELLED],
    APPROVED: [S.REFUNDED],
  },
  RETURN_AND_REFUND: {
    REQUESTED: [S.APPROVED, S.REJECTED, S.CANCELLED],
    APPROVED: [S.RETURN_SHIPPED],
    RETURN_SHIPPED: [S.RECEIVED],
    RECEIVED: [S.REFUNDED],
  },
  EXCHANGE: {
    REQUESTED: [S.APPROVED, S.REJECTED, S.CANCELLED],
    APPROVED: [S.RETURN_SHIPPED],
    RETURN_SHIPPED: [S.RECEIVED],
    RECEIVED: [S.EXCHANGE_SHIPPED],
    EXCHANGE_SHIPPED: [S.COMPLETED],
  },
};

describe('after-sale lifecycles', () => {
  test('nine statuses, three types, each table covers every status', () => {
    expect(ALL.sort()).toEqual([
      'APPROVED',
      'CANCELLED',
      'COMPLETED',
      'EXCHANGE_SHIPPED',
      'RECEIVED',
      'REFUNDED',
      'REJECTED',
      'REQUESTED',
      'RETURN_SHIPPED',
    ]);
    expect(Object.keys(afterSaleLifecycles).sort()).toEqual(['EXCHANGE', 'REFUND_ONLY', 'RETURN_AND_REFUND']);
    for (const t of Object.values(T))
      expect(Object.keys(afterSaleLifecycles[t].transitions).sort()).toEqual([...ALL].sort());
  });

  const pairs = Object.values(T).flatMap((type) =>
    ALL.flatMap((from) =>
      ALL.map((to) => [type, from, to, (ALLOWED[type][from] ?? []).includes(to)] as const),
    ),
  );
  test('3 × 81 pairs; 4, 6 and 7 allowed', () => {
    expect(pairs).toHaveLength(243);
    const allowed = (t: AfterSaleKind) => pairs.filter(([type, , , ok]) => type === t && ok).length;
    expect([allowed(T.REFUND_ONLY), allowed(T.RETURN_AND_REFUND), allowed(T.EXCHANGE)]).toEqual([4, 6, 7]);
  });

  test.each(pairs)('%s: %s -> %s allowed: %s', (type, from, to, ok) => {
    expect(afterSaleLifecycles[type].can(from, to)).toBe(ok);
  });

  test.each([
    [T.REFUND_ONLY, [S.REJECTED, S.REFUNDED, S.CANCELLED]],
    [T.RETURN_AND_REFUND, [S.REJECTED, S.REFUNDED, S.CANCELLED]],
    [T.EXCHANGE, [S.REJECTED, S.COMPLETED, S.CANCELLED]],
  ] as const)('%s ends in %j (states it never reaches are final too)', (type, ends) => {
    for (const s of ends) expect(afterSaleLifecycles[type].isFinal(s)).toBe(true);
    expect(afterSaleLifecycles[type].isFinal(S.REQUESTED)).toBe(false);
  });

  test('every type has a path from REQUESTED to its end', () => {
    const reach = (
      type: AfterSaleKind,
      from: AfterSaleStatus,
      to: AfterSaleStatus,
      seen = new Set<string>(),
    ): boolean =>
      from === to ||
      (!seen.has(from) &&
        afterSaleLifecycles[type].transitions[from].some((n) => reach(type, n, to, seen.add(from))));
    expect(reach(T.REFUND_ONLY, S.REQUESTED, S.REFUNDED)).toBe(true);
    expect(reach(T.RETURN_AND_REFUND, S.REQUESTED, S.REFUNDED)).toBe(true);
    expect(reach(T.EXCHANGE, S.REQUESTED, S.COMPLETED)).toBe(true);
    expect(reach(T.REFUND_ONLY, S.REQUESTED, S.RETURN_SHIPPED)).toBe(false);
    expect(reach(T.EXCHANGE, S.REQUESTED, S.REFUNDED)).toBe(false);
  });
});

describe('who may ask, and when', () => {
  const now = new Date('2026-12-20T12:00:00Z');
  const daysAgo = (d: number) => new Date(now.getTime() - d * 24 * 3600 * 1000);
  const O = OrderStatus;
  const ask = (type: AfterSaleKind, status: OrderStatus, deliveredAt: Date | null = null) =>
    requestRefusal(type, { status, deliveredAt }, now, 14);

  test.each([
    // [type, order status, delivered days ago (null: not delivered), allowed]
    [T.REFUND_ONLY, O.PENDING_PAYMENT, null, false],
    [T.REFUND_ONLY, O.PAID, null, true],
    [T.REFUND_ONLY, O.SHIPPED, null, true],
    [T.REFUND_ONLY, O.DELIVERED, 1, true],
    [T.REFUND_ONLY, O.COMPLETED, 13.9, true],
    [T.REFUND_ONLY, O.DELIVERED, 14.01, false],
    [T.REFUND_ONLY, O.CANCELLED, null, false],
    [T.REFUND_ONLY, O.REFUNDED, 1, false],
    [T.RETURN_AND_REFUND, O.PENDING_PAYMENT, null, false],
    [T.RETURN_AND_REFUND, O.PAID, null, false],
    [T.RETURN_AND_REFUND, O.SHIPPED, null, false],
    [T.RETURN_AND_REFUND, O.DELIVERED, 0, true],
    [T.RETURN_AND_REFUND, O.COMPLETED, 14, true],
    [T.RETURN_AND_REFUND, O.COMPLETED, 15, false],
    [T.RETURN_AND_REFUND, O.CANCELLED, null, false],
    [T.RETURN_AND_REFUND, O.REFUNDED, 1, false],
    [T.EXCHANGE, O.PENDING_PAYMENT, null, false],
    [T.EXCHANGE, O.PAID, null, false],
    [T.EXCHANGE, O.SHIPPED, null, false],
    [T.EXCHANGE, O.DELIVERED, 2, true],
    [T.EXCHANGE, O.COMPLETED, 10, true],
    [T.EXCHANGE, O.DELIVERED, 30, false],
    [T.EXCHANGE, O.CANCELLED, null, false],
    [T.EXCHANGE, O.REFUNDED, 1, false],
  ] as [AfterSaleKind, OrderStatus, number | null, boolean][])(
    '%s on %s delivered %s days ago: %s',
    (type, status, days, ok) => {
      const refusal = ask(type, status, days === null ? null : daysAgo(days));
      if (ok) expect(refusal).toBeNull();
      else expect(refusal).toEqual(expect.any(String));
    },
  );

  test('a delivered order without a delivery date opens no window', () => {
    expect(ask(T.RETURN_AND_REFUND, O.DELIVERED, null)).toMatch(/no delivery date/);
  });

  test('the messages say why', () => {
    expect(ask(T.RETURN_AND_REFUND, O.PAID)).toBe('A return is possible once the order is delivered');
    expect(ask(T.EXCHANGE, O.SHIPPED)).toBe('An exchange is possible once the order is delivered');
    expect(ask(T.REFUND_ONLY, O.CANCELLED)).toBe('No after-sale request is possible on a CANCELLED order');
    expect(ask(T.EXCHANGE, O.DELIVERED, daysAgo(20))).toBe(
      'After-sale requests are possible up to 14 days after delivery',
    );
  });
});

describe('prorated refunds', () => {
  test('shares of a line add up exactly to its total, in any split', () => {
    // 3 units costing 10.01 after discounts and points
    expect([prorate(1001, 3, 0, 1), prorate(1001, 3, 1, 1), prorate(1001, 3, 2, 1)]).toEqual([333, 334, 334]);
    expect(prorate(1001, 3, 0, 3)).toBe(1001);
    expect(prorate(1001, 3, 0, 2) + prorate(1001, 3, 2, 1)).toBe(1001);
    expect(prorate(1001, 3, 0, 1) + prorate(1001, 3, 1, 2)).toBe(1001);
  });

  test('every split of every small line sums to its total and no share exceeds what its units cost at most', () => {
    for (let q = 1; q <= 12; q++) {
      for (const total of [0, 1, 7, 99, 1000, 12345, 99999]) {
        // split q units into random chunks, many times
        for (let trial = 0; trial < 20; trial++) {
          let done = 0;
          let sum = 0;
          while (done < q) {
            const units = 1 + Math.floor(Math.random() * (q - done));
            const share = prorate(total, q, done, units);
            expect(share).toBeGreaterThanOrEqual(0);
            expect(share).toBeLessThanOrEqual(Math.ceil((total * units) / q));
            sum += share;
            done += units;
          }
          expect(sum).toBe(total);
        }
      }
    }
  });

  test('exact beyond 2^53 intermediate products', () => {
    const total = 9_000_000_000_000; // 90 billion in minor units
    expect(prorate(total, 7, 0, 7)).toBe(total);
    expect(prorate(total, 7, 0, 3) + prorate(total, 7, 3, 4)).toBe(total);
  });

  test.each([
    [100, 0, 0, 1],
    [100, 2, 2, 1],
    [100, 2, -1, 1],
    [-1, 2, 0, 1],
    [100, 2, 0, 1.5],
  ])('prorate(%d, %d, %d, %d) is refused', (total, q, k, n) => {
    expect(() => prorate(total, q, k, n)).toThrow(RangeError);
  });
});
