/**
 * Order ids (also used for checkouts) are 64-bit, made by `next_order_id(buyer)` in PostgreSQL:
 *
 *   bit 63      62 .. 22                 21 .. 12           11 .. 0
 *   0           milliseconds since       buyer shard        sequence
 *               2026-01-01 UTC (41 bits) (buyer_id % 1024)  (nextval % 4096)
 *
 * Time-ordered (sorting by id sorts by creation), unique across any number of server processes
 * (one database clock and one sequence; no process needs a node id), and the shard bits name the
 * buyer's shard, so a distributed deployment can route an order by its id alone.
 */
export const ORDER_ID_EPOCH_MS = Date.UTC(2026, 0, 1);
export const SHARD_COUNT = 1024;

export function decodeOrderId(id: string): { createdAt: Date; shard: number; sequence: number } {
  const n = BigInt(id);
  return {
    createdAt: new Date(Number(n >> 22n) + ORDER_ID_EPOCH_MS),
    shard: Number((n >> 12n) & 1023n),
    sequence: Number(n & 4095n),
  };
}

export const shardOf = (buyerId: string): number => Number(BigInt(buyerId) % BigInt(SHARD_COUNT));
