import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { recordOrderEvent } from '../events/order-events';
import { orderFromRow, type Order, type OrderRow } from '../order/order.store';
import { OrderEventKind } from '../order/order.types';
import { afterSaleLifecycles, AfterSaleKind, AfterSaleStatus } from './aftersale.lifecycle';

/** An after-sale row as stored (amounts in minor units). */
export interface AfterSaleRow {
  id: string;
  order_id: string;
  buyer_id: string;
  merchant_id: string;
  type: AfterSaleKind;
  status: AfterSaleStatus;
  reason: string;
  review_deadline: Date;
  reviewed_at: Date | null;
  reviewed_by: string | null;
  review_note: string | null;
  return_address: Record<string, string | null> | null;
  refund_amount: string | null;
  refund_id: string | null;
  restocked_at: Date | null;
  return_shipment_id: string | null;
  exchange_shipment_id: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface AfterSaleLineRow {
  after_sale_id: string;
  order_line_id: string;
  quantity: number;
  refund_amount: string | null;
}

/** An order locked by an after-sale change, with the database's clock when it was locked. */
export type LockedOrder = Order & { checkedAt: Date };

/** The order row, locked for the rest of the transaction, with the database's clock. */
export async function lockOrder(tx: EntityManager, orderId: string): Promise<LockedOrder | undefined> {
  const [o] = await sqlAll<OrderRow & { checked_at: Date }>(
    tx,
    'select *, now() as checked_at from shop_order where id = $1 for update',
    [orderId],
  );
  return o && { ...orderFromRow(o), checkedAt: o.checked_at };
}

/** Who may see an after-sale: the parties of its order (see `canSee`). */
export const partiesOf = (as: AfterSaleRow): { buyerId: string; merchantId: string } => ({
  buyerId: as.buyer_id,
  merchantId: as.merchant_id,
});

export async function findAfterSale(
  em: EntityManager,
  id: string,
  lock = false,
): Promise<AfterSaleRow | undefined> {
  const [row] = await sqlAll<AfterSaleRow>(
    em,
    `select * from after_sale where id = $1${lock ? ' for update' : ''}`,
    [id],
  );
  return row;
}

/**
 * Locks an after-sale the way every change does: its order row first (the serialization point of
 * everything that touches the order's claims and money), then the after-sale row, read afresh.
 */
export async function lockAfterSale(
  tx: EntityManager,
  id: string,
): Promise<{ as: AfterSaleRow; order: LockedOrder } | null> {
  const first = await findAfterSale(tx, id);
  if (!first) return null;
  const order = (await lockOrder(tx, first.order_id))!;
  return { as: (await findAfterSale(tx, id, true))!, order };
}

/** Columns a move may change along with the status. */
export interface AfterSaleChanges {
  /** Marks the review: by this user, or null for the automatic approval. */
  reviewedBy?: string | null;
  reviewNote?: string | null;
  returnAddress?: object | null;
  returnShipmentId?: string;
  exchangeShipmentId?: string;
}

/**
 * Moves an after-sale from the status the caller saw to `to` if its type's lifecycle allows it,
 * with the given changes, and records the AFTER_SALE_UPDATED event in the same transaction.
 * Conditional on that status, so a change that raced ahead makes this return null.
 */
export async function moveAfterSale(
  tx: EntityManager,
  as: AfterSaleRow,
  to: AfterSaleStatus,
  c: AfterSaleChanges = {},
): Promise<AfterSaleRow | null> {
  if (!afterSaleLifecycles[as.type].can(as.status, to))
    throw new Error(`after-sale ${as.id}: ${as.type} cannot go from ${as.status} to ${to}`);
  const params: unknown[] = [as.id, as.status, to];
  const cols = ['status = $3', 'version = version + 1', 'updated_at = now()'];
  const add = (col: string, v: unknown, cast = '') => cols.push(`${col} = $${params.push(v)}${cast}`);
  if (c.reviewedBy !== undefined) {
    cols.push('reviewed_at = now()');
    add('reviewed_by', c.reviewedBy);
  }
  if (c.reviewNote !== undefined) add('review_note', c.reviewNote);
  if (c.returnAddress !== undefined)
    add('return_address', c.returnAddress === null ? null : JSON.stringify(c.returnAddress), '::jsonb');
  if (c.returnShipmentId !== undefined) add('return_shipment_id', c.returnShipmentId);
  if (c.exchangeShipmentId !== undefined) add('exchange_shipment_id', c.exchangeShipmentId);
  const [row] = await sqlAll<AfterSaleRow>(
    tx,
    `update after_sale set ${cols.join(', ')} where id = $1 and status = $2 returning *`,
    params,
  );
  if (!row) return null;
  await recordOrderEvent(tx, {
    orderId: String(as.order_id),
    type: OrderEventKind.AFTER_SALE_UPDATED,
    afterSaleId: String(as.id),
  });
  return row;
}

export async function linesOf(em: EntityManager, afterSaleId: string): Promise<AfterSaleLineRow[]> {
  return sqlAll<AfterSaleLineRow>(
    em,
    'select * from after_sale_line where after_sale_id = $1 order by order_line_id',
    [afterSaleId],
  );
}
