import 'reflect-metadata';
import { decodeOrderId, ORDER_ID_EPOCH_MS, SHARD_COUNT, shardOf } from '../../src/modules/order/order-id';
import { orderLifecycle, OrderStatus } from '../../src/modules/order/order.lifecycle';

const S = OrderStatus;
const ALL: OrderStatus[] = [
  S.PENDING_PAYMENT,
  S.PAID,
  S.SHIPPED,
  S.DELIVERED,
  S.COMPLETED,
  S.CANCELLED,
  S.REFUNDED,
];

/** The intended lifecycle, written out independently of the implementation. */
const ALLOWED: Record<OrderStatus, OrderStatus[]> = {
  PENDING_PAYMENT: [S.PAID, S.CANCELLED],
  PAID: [S.SHIPPED, S.REFUNDED],
  SHIPPED: [S.DELIVERED, S.REFUNDED],
  DELIVERED: [S.COMPLETED, S.REFUNDED],
  COMPLETED: [S.REFUNDED],
  CANCELLED: [],
  REFUNDED: [],
};

describe('order lifecycle', () => {
  test('the enum has exactly the seven statuses', () => {
    expect(Object.values(OrderStatus).sort()).toEqual([...ALL].sort());
    expect(Object.keys(orderLifecycle.transitions).sort()).toEqual([...ALL].sort());
  });

  const pairs = ALL.flatMap((from) => ALL.map((to) => [from, to, ALLOWED[from].includes(to)] as const));
  test('49 pairs, 9 of them allowed', () => {
    expect(pairs).toHaveLength(49);
    expect(pairs.filter(([, , ok]) => ok)).toHaveLength(9);
  });

  test.each(pairs)('%s -> %s allowed: %s', (from, to, ok) => {
    expect(orderLifecycle.can(from, to)).toBe(ok);
  });

  test('no status moves to itself', () => {
    for (const s of ALL) expect(orderLifecycle.can(s, s)).toBe(false);
  });

  test.each([
    [S.PENDING_PAYMENT, []],
    [S.PAID, [S.PENDING_PAYMENT]],
    [S.SHIPPED, [S.PAID]],
    [S.DELIVERED, [S.SHIPPED]],
    [S.COMPLETED, [S.DELIVERED]],
    [S.CANCELLED, [S.PENDING_PAYMENT]],
    [S.REFUNDED, [S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED]],
  ] as [OrderStatus, OrderStatus[]][])('sourcesOf(%s) = %j', (to, sources) => {
    expect([...orderLifecycle.sourcesOf(to)].sort()).toEqual([...sources].sort());
  });

  test.each(ALL.map((s) => [s, s === S.CANCELLED || s === S.REFUNDED] as const))(
    'isFinal(%s) = %s',
    (s, final) => {
      expect(orderLifecycle.isFinal(s)).toBe(final);
    },
  );
});

describe('order ids', () => {
  /** Builds an id from its parts with the documented layout. */
  const make = (ms: number, shard: number, seq: number) =>
    ((BigInt(ms) << 22n) | (BigInt(shard) << 12n) | BigInt(seq)).toString();

  test('the epoch is 2026-01-01 UTC and there are 1024 shards', () => {
    expect(ORDER_ID_EPOCH_MS).toBe(1767225600000);
    expect(new Date(ORDER_ID_EPOCH_MS).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(SHARD_COUNT).toBe(1024);
  });

  test('decodes the three fields', () => {
    const at = Date.UTC(2026, 10, 23, 12, 34, 56, 789) - ORDER_ID_EPOCH_MS;
    const d = decodeOrderId(make(at, 517, 3001));
    expect(d.createdAt.toISOString()).toBe('2026-11-23T12:34:56.789Z');
    expect(d.shard).toBe(517);
    expect(d.sequence).toBe(3001);
  });

  test('zero decodes to the epoch, shard 0, sequence 0', () => {
    const d = decodeOrderId('0');
    expect(d).toEqual({ createdAt: new Date(ORDER_ID_EPOCH_MS), shard: 0, sequence: 0 });
  });

  test('extreme field values do not bleed into each other', () => {
    const maxMs = 2 ** 41 - 1;
    const all = decodeOrderId(make(maxMs, 1023, 4095));
    expect(all.createdAt.getTime()).toBe(ORDER_ID_EPOCH_MS + maxMs);
    expect(all.shard).toBe(1023);
    expect(all.sequence).toBe(4095);
    // the largest id fits a signed 64-bit integer (bit 63 stays 0)
    expect(BigInt(make(maxMs, 1023, 4095))).toBe(2n ** 63n - 1n);

    expect(decodeOrderId(make(0, 1023, 0))).toEqual({
      createdAt: new Date(ORDER_ID_EPOCH_MS),
      shard: 1023,
      sequence: 0,
    });
    expect(decodeOrderId(make(0, 0, 4095))).toEqual({
      createdAt: new Date(ORDER_ID_EPOCH_MS),
      shard: 0,
      sequence: 4095,
    });
    expect(decodeOrderId(make(1, 0, 0))).toEqual({
      createdAt: new Date(ORDER_ID_EPOCH_MS + 1),
      shard: 0,
      sequence: 0,
    });
  });

  test('a concrete id decodes exactly (beyond 2^53)', () => {
    // 2026-03-01T00:00:00.000Z = 5097600000 ms after the epoch, shard 42, sequence 7
    const id = '21380884070572039';
    expect(id).toBe(make(5_097_600_000, 42, 7));
    expect(decodeOrderId(id)).toEqual({
      createdAt: new Date('2026-03-01T00:00:00.000Z'),
      shard: 42,
      sequence: 7,
    });
  });

  test.each([
    ['1', 1],
    ['1023', 1023],
    ['1024', 0],
    ['1025', 1],
    ['2048', 0],
    ['123456789', 123456789 % 1024],
    ['9223372036854775807', 1023],
    ['9007199254740993', 1], // 2^53 + 1: exact only with BigInt arithmetic
  ])('shardOf(%s) = %d', (buyerId, shard) => {
    expect(shardOf(buyerId)).toBe(shard);
  });
});
