import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { ORDER_ID_EPOCH_MS } from '../order/order-id';
import { snapshotOf, type SnapshotSource } from './checkout.snapshot';

export const SNAPSHOT_SWEEP_JOB = 'snapshots.sweep';
const CURSOR = 'snapshot-sweep';
const CHUNK = 2000;

interface MissingLine extends SnapshotSource {
  order_id: string;
  digest: string;
  line_title: string;
  line_sku: string;
  line_attributes: { name: string; value: string }[];
  unit_price: string;
  line_variant_id: string;
  line_product_id: string;
  line_merchant_id: string;
}

export interface Snapshot {
  digest: string;
  title: string;
  data: object;
}

/**
 * The backstop of the snapshot job: finds order lines whose snapshot row is missing (a job that
 * died in its dead-letter queue, a restore) and writes it. From the catalog when the product and
 * variant still have exactly the content that was sold (the digest matches), otherwise from the
 * order line itself (title, SKU, attributes, price: what the order recorded), marked as rebuilt.
 * Walks orders in id (time) order from where it stopped, leaving the last `settleMs` alone (their
 * jobs are still due), so each line is looked at once.
 */
export async function sweepSnapshots(
  em: EntityManager,
  currency: string,
  write: (snapshots: Snapshot[]) => Promise<void>,
  settleMs = 5 * 60_000,
): Promise<{ checkedUpTo: string; rebuilt: number }> {
  const upper = ((BigInt(Date.now() - settleMs - ORDER_ID_EPOCH_MS) << 22n) - 1n).toString();
  let rebuilt = 0;
  for (;;) {
    const [c] = await sqlAll<{ position: string }>(
      em,
      `insert into ops_cursor (name) values ($1) on conflict (name) do update set name = excluded.name returning position::text`,
      [CURSOR],
    );
    const [chunk] = await sqlAll<{ last: string | null }>(
      em,
      `select max(id)::text as last from (select id from shop_order where id > $1 and id <= $2 order by id limit $3) x`,
      [c.position, upper, CHUNK],
    );
    if (!chunk.last) return { checkedUpTo: c.position, rebuilt };
    const missing = await sqlAll<MissingLine>(
      em,
      `select ol.order_id, ol.snapshot_digest as digest, ol.title as line_title, ol.sku as line_sku,
              ol.attributes as line_attributes, ol.unit_price, ol.variant_id as line_variant_id,
              ol.product_id as line_product_id, o.merchant_id as line_merchant_id,
              p.id as product_id, v.id as variant_id, v.merchant_id, p.category_id, p.title as product_title,
              v.title as variant_title, v.sku, p.description, p.images, p.collections, v.attributes, v.price
         from order_line ol
         join shop_order o on o.id = ol.order_id
         left join product_snapshot s on s.digest = ol.snapshot_digest
         left join variant v on v.id = ol.variant_id
         left join product p on p.id = ol.product_id
        where ol.order_id > $1 and ol.order_id <= $2 and s.digest is null`,
      [c.position, chunk.last],
    );
    const snapshots = new Map<string, Snapshot>();
    for (const l of missing) snapshots.set(l.digest, rebuild(l, currency));
    await write([...snapshots.values()]);
    rebuilt += snapshots.size;
    await sqlAll(em, `update ops_cursor set position = $2 where name = $1 and position < $2`, [
      CURSOR,
      chunk.last,
    ]);
  }
}

function rebuild(l: MissingLine, currency: string): Snapshot {
  if (l.product_id && l.variant_id) {
    const now = snapshotOf(l, currency);
    if (now.digest === l.digest) return now;
  }
  return {
    digest: l.digest,
    title: l.line_title,
    data: {
      productId: String(l.line_product_id),
      variantId: String(l.line_variant_id),
      merchantId: String(l.line_merchant_id),
      title: l.line_title,
      sku: l.line_sku,
      attributes: l.line_attributes,
      unitPrice: Number(l.unit_price),
      currency,
      // The catalog no longer has what was sold: this is what the order line recorded.
      rebuiltFromOrderLine: true,
    },
  };
}
