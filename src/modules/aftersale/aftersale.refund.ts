import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { ErrorCode, UserError, isErrorResult } from '../../shared/error-result';
import { returnSoldStock } from '../inventory/inventory.store';
import { InsufficientFunds } from '../ledger/ledger.errors';
import type { AfterSaleDeps } from './aftersale.deps';
import { AfterSaleStatus, prorate } from './aftersale.lifecycle';
import { moveAfterSale, type AfterSaleRow } from './aftersale.store';

/**
 * Pays an after-sale's refund and moves it to REFUNDED, in the caller's transaction (which holds
 * the order's lock, so the refunds of an order are computed one at a time). Each line's share is
 * prorated from its total after the units of that line already refunded; the refund covering the
 * order's last unrefunded unit is whatever is still refundable (shipping included), so the order
 * ends REFUNDED. A UserError means the caller must roll back.
 */
export async function refundAfterSale(
  deps: AfterSaleDeps,
  tx: EntityManager,
  as: AfterSaleRow,
): Promise<AfterSaleRow | UserError> {
  const lines = await sqlAll<{
    order_line_id: string;
    quantity: number;
    line_quantity: number;
    line_total: string;
    refunded: number;
  }>(
    tx,
    `select asl.order_line_id, asl.quantity, ol.quantity as line_quantity, ol.total as line_total,
            coalesce((select sum(x.quantity) from after_sale_line x join after_sale a on a.id = x.after_sale_id
                       where x.order_line_id = asl.order_line_id and a.status = 'REFUNDED'), 0)::int as refunded
       from after_sale_line asl join order_line ol on ol.id = asl.order_line_id
      where asl.after_sale_id = $1 order by asl.order_line_id`,
    [as.id],
  );
  const shares = lines.map((l) => prorate(Number(l.line_total), l.line_quantity, l.refunded, l.quantity));
  const [{ units, refunded }] = await sqlAll<{ units: number; refunded: number }>(
    tx,
    `select (select sum(quantity) from order_line where order_id = $1)::int as units,
            coalesce((select sum(x.quantity) from after_sale_line x join after_sale a on a.id = x.after_sale_id
                       where a.order_id = $1 and a.status = 'REFUNDED'), 0)::int as refunded`,
    [as.order_id],
  );
  const last = refunded + lines.reduce((n, l) => n + l.quantity, 0) === units;
  const refundable = await deps.refunds.refundableInTransaction(tx, String(as.order_id));
  const sharesTotal = shares.reduce((a, b) => a + b, 0);
  const amount = last ? refundable : Math.min(sharesTotal, refundable);

  let refundId: string | null = null;
  if (amount > 0) {
    let r;
    try {
      r = await deps.refunds.refundOrderInTransaction(
        tx,
        String(as.buyer_id),
        String(as.order_id),
        amount,
        `after-sale ${as.id}`,
        `after-sale:${as.id}`,
      );
    } catch (e) {
      if (e instanceof InsufficientFunds)
        return UserError.of(
          ErrorCode.REFUND_EXCEEDS_PAID,
          "The merchant's balance cannot cover this refund now",
        );
      throw e;
    }
    if (isErrorResult(r)) return r;
    refundId = String(r.id);
  }
  await sqlAll(
    tx,
    `update after_sale_line l set refund_amount = u.a from unnest($2::bigint[], $3::bigint[]) as u(line, a)
      where l.after_sale_id = $1 and l.order_line_id = u.line`,
    [as.id, lines.map((l) => l.order_line_id), shares],
  );
  const [withRefund] = await sqlAll<AfterSaleRow>(
    tx,
    'update after_sale set refund_amount = $2, refund_id = $3 where id = $1 returning *',
    [as.id, amount, refundId],
  );
  return (await moveAfterSale(tx, withRefund, AfterSaleStatus.REFUNDED))!;
}

/** The after-sale's units go back to stock, once (restocked_at guards it). */
export async function restockAfterSale(tx: EntityManager, as: AfterSaleRow): Promise<void> {
  const first = await sqlAll(
    tx,
    'update after_sale set restocked_at = now() where id = $1 and restocked_at is null returning id',
    [as.id],
  );
  if (first.length === 0) return;
  const items = await sqlAll<{ variant_id: string; quantity: number }>(
    tx,
    'select ol.variant_id, asl.quantity from after_sale_line asl join order_line ol on ol.id = asl.order_line_id where asl.after_sale_id = $1',
    [as.id],
  );
  await returnSoldStock(
    tx,
    items.map((i) => ({ variantId: String(i.variant_id), quantity: i.quantity })),
  );
}
