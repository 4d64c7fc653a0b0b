import { SHARD_COUNT } from '../src/modules/order/order-id';

/**
 * How evenly orders spread over the nodes of a distributed deployment when they are placed by the
 * buyer's shard carried in the order id (bits 21..12 = buyer_id % 1024, src/modules/order/order-id.ts),
 * for buyers whose order counts follow Zipf's law (docs/scaling.md quotes the table this prints).
 *
 *   npm run build && node dist/scripts/shard-balance.js [orders] [nodes]
 *
 * The 1024 shard values are the unit of placement (a Citus shard group holds one or more of them);
 * two placements are compared: static (shard value % nodes, what a fresh cluster does) and
 * size-aware (largest shard groups first onto the least loaded node, what the rebalancer's
 * `by_disk_size` strategy converges to).
 */

export interface Scenario {
  orders: number;
  buyers: number;
  /** Zipf exponent: the buyer of popularity rank r places orders ∝ r^-s; 0 = every buyer alike. */
  s: number;
  nodes: number;
  /** At most this many orders (expected) per buyer: the heavy head of the distribution cut off. */
  capOrders?: number;
  seed?: number;
}

export interface Balance {
  /** Orders per node / mean orders per node. */
  maxOverMean: number;
  minOverMean: number;
  /** Coefficient of variation of orders per node. */
  cv: number;
}

export interface Outcome {
  scenario: Scenario;
  /** The share of all orders placed by the most active buyer (one buyer is never split). */
  topBuyerShare: number;
  /** The share of the largest of the 1024 shard values. */
  largestShardShare: number;
  staticPlacement: Balance;
  sizeAwarePlacement: Balance;
}

/** A small seeded PRNG (mulberry32): the same table on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Orders per shard value: each order is drawn from the Zipf distribution over buyer ranks; ranks are
 * given to buyer ids 1..buyers in a random order (popularity has nothing to do with sign-up order),
 * and an order lands on shard `buyer_id % 1024`, as `next_order_id(buyer)` numbers it.
 */
export function ordersPerShard(sc: Scenario): { perShard: Float64Array; topBuyerShare: number } {
  const random = prng(sc.seed ?? 1);
  const weight = (r: number, cap: number) => Math.min((r + 1) ** -sc.s, cap);
  let cap = Infinity;
  if (sc.capOrders) {
    // The weight cap T with orders × T / Σ min(w, T) = capOrders (a fixed point; converges from above).
    cap = 1;
    for (let i = 0; i < 100; i++) {
      let total = 0;
      for (let r = 0; r < sc.buyers; r++) total += weight(r, cap);
      const next = (sc.capOrders * total) / sc.orders;
      if (Math.abs(next - cap) <= cap * 1e-6) break;
      cap = next;
    }
  }
  const cdf = new Float64Array(sc.buyers);
  let sum = 0;
  for (let r = 0; r < sc.buyers; r++) cdf[r] = sum += weight(r, cap);
  const idOfRank = new Int32Array(sc.buyers);
  for (let i = 0; i < sc.buyers; i++) idOfRank[i] = i + 1;
  for (let i = sc.buyers - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idOfRank[i], idOfRank[j]] = [idOfRank[j], idOfRank[i]];
  }
  const perShard = new Float64Array(SHARD_COUNT);
  for (let o = 0; o < sc.orders; o++) {
    const u = random() * sum;
    let lo = 0;
    let hi = sc.buyers - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    perShard[idOfRank[lo] % SHARD_COUNT]++;
  }
  return { perShard, topBuyerShare: weight(0, cap) / sum };
}

export function balanceOf(perNode: ArrayLike<number>): Balance {
  const n = perNode.length;
  let total = 0;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    total += perNode[i];
    max = Math.max(max, perNode[i]);
    min = Math.min(min, perNode[i]);
  }
  const mean = total / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (perNode[i] - mean) ** 2;
  return { maxOverMean: max / mean, minOverMean: min / mean, cv: Math.sqrt(sq / n) / mean };
}

/** Static placement: shard value v on node v % nodes. */
export function placeStatic(perShard: ArrayLike<number>, nodes: number): Float64Array {
  const perNode = new Float64Array(nodes);
  for (let v = 0; v < perShard.length; v++) perNode[v % nodes] += perShard[v];
  return perNode;
}

/** Size-aware placement: largest first onto the least loaded node (longest-processing-time first). */
export function placeBySize(sizes: number[], nodes: number): Float64Array {
  const perNode = new Float64Array(nodes);
  for (const size of [...sizes].sort((a, b) => b - a)) {
    let least = 0;
    for (let i = 1; i < nodes; i++) if (perNode[i] < perNode[least]) least = i;
    perNode[least] += size;
  }
  return perNode;
}

export function simulate(sc: Scenario): Outcome {
  const { perShard, topBuyerShare } = ordersPerShard(sc);
  const sizes = Array.from(perShard);
  return {
    scenario: sc,
    topBuyerShare,
    largestShardShare: Math.max(...sizes) / sc.orders,
    staticPlacement: balanceOf(placeStatic(perShard, sc.nodes)),
    sizeAwarePlacement: balanceOf(placeBySize(sizes, sc.nodes)),
  };
}

const f2 = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** The markdown table docs/scaling.md quotes. */
export function table(outcomes: Outcome[]): string {
  const rows = outcomes.map((o) =>
    [
      o.scenario.buyers.toLocaleString('en-US'),
      o.scenario.s === 0 ? 'uniform' : String(o.scenario.s),
      o.scenario.capOrders ? o.scenario.capOrders.toLocaleString('en-US') : '—',
      pct(o.topBuyerShare),
      pct(o.largestShardShare),
      `${f2(o.staticPlacement.maxOverMean)} / ${f2(o.staticPlacement.minOverMean)} / ${f2(o.staticPlacement.cv)}`,
      `${f2(o.sizeAwarePlacement.maxOverMean)} / ${f2(o.sizeAwarePlacement.minOverMean)} / ${f2(o.sizeAwarePlacement.cv)}`,
    ].join(' | '),
  );
  return [
    '| buyers | Zipf s | cap per buyer | top buyer | largest shard value | static: max / min / CV | size-aware: max / min / CV |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

export const SCENARIOS = (orders: number, nodes: number): Scenario[] =>
  [
    { buyers: 100_000, s: 0 },
    ...[1.0, 1.1, 1.2].flatMap((s) => [
      { buyers: 1_000_000, s },
      { buyers: 1_000_000, s, capOrders: 1000 },
      { buyers: 100_000, s, capOrders: 1000 },
    ]),
  ].map((x) => ({ ...x, orders, nodes }));

if (require.main === module) {
  const orders = Number(process.argv[2] ?? 1_000_000);
  const nodes = Number(process.argv[3] ?? 32);
  console.log(
    `${orders.toLocaleString('en-US')} orders over ${nodes} nodes, 1024 shard values; per node, ÷ the mean\n`,
  );
  console.log(table(SCENARIOS(orders, nodes).map(simulate)));
}
