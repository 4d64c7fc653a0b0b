import { decodeOrderId, ORDER_ID_EPOCH_MS, shardOf } from '../../src/modules/order/order-id';
import { balanceOf, placeBySize, simulate, table, type Scenario } from '../../scripts/shard-balance';

/**
 * Shard balance of the order-id layout (issue 14, item 5; docs/scaling.md): orders land on the
 * buyer's shard value (buyer_id % 1024, carried in the id); how evenly do 32 nodes fill up when
 * buyers' order counts follow Zipf's law? Smaller than the documented run (200k orders) to stay fast.
 */

const base = { orders: 200_000, nodes: 32, buyers: 50_000 };

test('the simulation places an order where its id says: next_order_id puts buyer_id % 1024 in bits 21..12', () => {
  for (const buyer of [1, 2, 1023, 1024, 1025, 987_654_321]) {
    // The SQL function's layout: (ms since epoch << 22) | ((buyer % 1024) << 12) | (seq % 4096)
    const ms = BigInt(Date.UTC(2026, 11, 4) - ORDER_ID_EPOCH_MS);
    const id = (ms << 22n) | (BigInt(buyer % 1024) << 12n) | 4095n;
    expect(decodeOrderId(id.toString()).shard).toBe(shardOf(String(buyer)));
    expect(shardOf(String(buyer))).toBe(buyer % 1024);
  }
});

test('buyers alike: every node within 10 % of the mean, even with static placement', () => {
  const o = simulate({ ...base, s: 0 });
  expect(o.staticPlacement.maxOverMean).toBeLessThan(1.1);
  expect(o.staticPlacement.minOverMean).toBeGreaterThan(0.9);
  expect(o.sizeAwarePlacement.maxOverMean).toBeLessThan(1.02);
});

test.each([1.0, 1.1, 1.2])(
  'Zipf s=%s with the head capped at 0.1 %% of orders per buyer: static within 35 %%, size-aware within 3 %%',
  (s) => {
    const o = simulate({ ...base, s, capOrders: base.orders / 1000 });
    expect(o.topBuyerShare).toBeLessThan(0.0011);
    expect(o.staticPlacement.maxOverMean).toBeLessThan(1.35);
    expect(o.staticPlacement.minOverMean).toBeGreaterThan(0.65);
    expect(o.sizeAwarePlacement.maxOverMean).toBeLessThan(1.03);
    expect(o.sizeAwarePlacement.minOverMean).toBeGreaterThan(0.97);
  },
);

test.each([1.0, 1.2])(
  'Zipf s=%s uncapped: the heaviest buyer bounds the balance (a buyer is never split), and size-aware placement reaches that bound',
  (s) => {
    const sc: Scenario = { ...base, s };
    const o = simulate(sc);
    // One buyer's orders share one shard value, so one node carries at least that buyer.
    const bound = o.largestShardShare * sc.nodes;
    expect(o.topBuyerShare * sc.nodes).toBeGreaterThan(1.5);
    expect(o.sizeAwarePlacement.maxOverMean).toBeGreaterThan(o.topBuyerShare * sc.nodes * 0.95); // sampled
    expect(o.sizeAwarePlacement.maxOverMean).toBeLessThan(bound * 1.02);
    // ...and it is strictly better than static placement.
    expect(o.sizeAwarePlacement.maxOverMean).toBeLessThan(o.staticPlacement.maxOverMean);
  },
);

test('the helpers: balance figures and size-aware placement', () => {
  expect(balanceOf([2, 2, 2, 2])).toEqual({ maxOverMean: 1, minOverMean: 1, cv: 0 });
  expect(balanceOf([3, 1])).toMatchObject({ maxOverMean: 1.5, minOverMean: 0.5, cv: 0.5 });
  expect(Array.from(placeBySize([5, 4, 3, 3, 1], 2)).sort()).toEqual([8, 8]);
  expect(table([simulate({ orders: 1000, nodes: 4, buyers: 100, s: 1 })])).toMatch(/^\| buyers \|/);
});
