import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { canManage, isAdmin, type Principal } from '../../shared/auth';
import { isId } from '../../shared/ids';
import { badInput } from '../../shared/errors';
import { checkPageSize, decodeCursor, encodeCursor } from '../../shared/pagination';
import { releaseOrderStock } from '../inventory/inventory.store';
import { returnPointsOfCancelledOrder } from '../loyalty/loyalty';
import type { PricingService } from '../pricing/pricing.service';
import { orderArchived, OrderStateError } from './order.errors';
import type { UserError } from '../../shared/error-result';
import { orderLifecycle, OrderStatus } from './order.lifecycle';
import { OrderEventKind } from './order.types';
import { insertEvent } from '../events/order-events';
import { orderFromRow, type Order, type OrderRow } from './order.store';

export type { Order } from './order.store';

export interface OrderListFilter {
  status?: OrderStatus[] | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  /** Also list archived orders (docs/archive.md); hot orders only otherwise. */
  includeArchived?: boolean | null;
}

/** The filter's conditions on an order table's columns; `add` binds a value and names its placeholder. */
export function orderFilterConditions(filter: OrderListFilter, add: (v: unknown) => string): string[] {
  const conds: string[] = [];
  if (filter.status?.length) conds.push(`status = any(${add(filter.status)}::text[])`);
  if (filter.createdAfter) conds.push(`created_at >= ${add(filter.createdAfter)}`);
  if (filter.createdBefore) conds.push(`created_at < ${add(filter.createdBefore)}`);
  return conds;
}

/** One page of orders, newest first, and how many match in all. */
export interface OrderPage {
  rows: Order[];
  totalCount: number;
}

/**
 * Where merchant order lists come from when not from `shop_order` (the seller-side store). Null:
 * the source must answer (the store could not be brought up to date in time).
 */
export interface MerchantOrderLists {
  list(
    em: EntityManager,
    who: { merchantId: string; userId: string },
    filter: OrderListFilter,
    limit: number,
    beforeId: string | null,
  ): Promise<OrderPage | null>;
}

/**
 * Hot and archived orders in one relation, for the reads that show either (the archive has the
 * same columns in the same order: src/modules/archive). Writes only ever see hot orders.
 */
const ANY_ORDER = '(select * from shop_order union all select * from archive.shop_order) o';

/** Who may see an order: its buyer, its merchant, admins. Everyone else reads it as not existing. */
export const canSee = (p: Principal | null, o: { buyerId: string; merchantId: string }): boolean =>
  !!p && (String(o.buyerId) === p.userId || canManage(p, String(o.merchantId)) || isAdmin(p));

/**
 * What a change of an order that is not hot answers: ORDER_ARCHIVED when it is archived and
 * `principal` may see it, else null (not found, as before). Archived orders are never brought back.
 */
export async function refuseArchived(
  em: EntityManager,
  principal: Principal,
  id: string,
): Promise<UserError | null> {
  if (!isId(id)) return null;
  const [row] = await sqlAll<{ buyer_id: string; merchant_id: string }>(
    em,
    'select buyer_id, merchant_id from archive.shop_order where id = $1',
    [id],
  );
  return row && canSee(principal, { buyerId: row.buyer_id, merchantId: row.merchant_id })
    ? orderArchived(id)
    : null;
}

export class OrderService {
  constructor(
    private readonly pricing: PricingService,
    private readonly maxPageSize: number,
    private readonly log?: Logger,
    /** Merchant lists read the seller-side store when set (docs/seller-store.md). */
    private readonly merchantLists?: MerchantOrderLists,
  ) {}

  /**
   * Moves an order to `to` if its current status allows it: one conditional UPDATE, so of two
   * racing moves (a payment and a cancellation) exactly one wins. Records the event in the same
   * transaction. Returns the updated row, or the OrderStateError for the current status.
   */
  async transition(
    em: EntityManager,
    orderId: string,
    to: OrderStatus,
    extra: { cancelReason?: string } = {},
  ): Promise<Order | OrderStateError> {
    const [row] = await sqlAll<OrderRow>(
      em,
      `update shop_order set status = $2, version = version + 1, event_seq = event_seq + 1, updated_at = now(),
              cancel_reason = coalesce($4, cancel_reason),
              delivered_at = case when $2 = 'DELIVERED' then now() else delivered_at end,
              completed_at = case when $2 = 'COMPLETED' then now() else completed_at end
        where id = $1 and status = any($3::text[]) returning *`,
      [orderId, to, orderLifecycle.sourcesOf(to), extra.cancelReason ?? null],
    );
    if (!row) {
      const [current] = await sqlAll<{ status: OrderStatus }>(
        em,
        'select status from shop_order where id = $1',
        [orderId],
      );
      return OrderStateError.of(current.status, to);
    }
    await insertEvent(em, {
      orderId,
      type: OrderEventKind.STATUS_CHANGED,
      buyerId: row.buyer_id,
      merchantId: row.merchant_id,
      status: to,
      seq: row.event_seq,
    });
    return orderFromRow(row);
  }

  /**
   * Cancels an unpaid order and gives back everything it took, in one transaction: reserved or
   * deducted stock, the buyer's points, and (with the checkout's last order) the coupon use.
   */
  async cancelInTransaction(
    tx: EntityManager,
    orderId: string,
    reason: string,
  ): Promise<Order | OrderStateError> {
    const [order] = await sqlAll<{ checkout_id: string }>(
      tx,
      'select checkout_id from shop_order where id = $1',
      [orderId],
    );
    // The checkout row serializes cancellations of its orders (coupon release happens once).
    await sqlAll(tx, 'select id from checkout where id = $1 for update', [order.checkout_id]);
    const moved = await this.transition(tx, orderId, OrderStatus.CANCELLED, { cancelReason: reason });
    if (moved instanceof OrderStateError) return moved;
    // Coupon, then points, then stock: the order in which checkout locks them, so the two never deadlock.
    const [open] = await sqlAll(
      tx,
      `select 1 from shop_order where checkout_id = $1 and status <> 'CANCELLED' limit 1`,
      [order.checkout_id],
    );
    if (!open) await this.pricing.release(tx, String(order.checkout_id));
    await returnPointsOfCancelledOrder(tx, {
      buyerId: moved.buyerId,
      orderId,
      pointsUsed: moved.pointsUsed,
    });
    await releaseOrderStock(tx, orderId);
    return moved;
  }

  /** The buyer (or an admin) cancels an unpaid order. Someone else's order is not found (null). */
  async cancel(
    em: EntityManager,
    principal: Principal,
    orderId: string,
    reason: string | null,
  ): Promise<Order | OrderStateError | UserError | null> {
    const order = await this.find(em, principal, orderId);
    if (!order) return this.refuseArchived(em, principal, orderId);
    if (order.buyerId !== principal.userId && !isAdmin(principal)) return null;
    return inTransaction(em, async (tx) => {
      const r = await this.cancelInTransaction(tx, orderId, reason ?? 'cancelled by the buyer');
      if (r instanceof OrderStateError) throw new Rollback(r);
      return r;
    });
  }

  /** Cancels the unpaid orders of a checkout whose payment window has closed (the delayed job). */
  async expireCheckout(em: EntityManager, checkoutId: string): Promise<number> {
    const due = await sqlAll<{ id: string }>(
      em,
      `select id from shop_order where checkout_id = $1 and status = 'PENDING_PAYMENT' and payment_deadline <= now() order by id`,
      [checkoutId],
    );
    return this.expire(
      em,
      due.map((d) => String(d.id)),
    );
  }

  /** The backstop sweep: every unpaid order past its deadline, whatever happened to its job. */
  async expireOverdue(em: EntityManager, limit = 500): Promise<number> {
    const due = await sqlAll<{ id: string }>(
      em,
      `select id from shop_order where status = 'PENDING_PAYMENT' and payment_deadline <= now() order by payment_deadline limit $1`,
      [limit],
    );
    return this.expire(
      em,
      due.map((d) => String(d.id)),
    );
  }

  private async expire(em: EntityManager, ids: string[]): Promise<number> {
    let cancelled = 0;
    for (const id of ids) {
      try {
        const r = await inTransaction(em, (tx) => this.cancelInTransaction(tx, id, 'payment window expired'));
        if (!(r instanceof OrderStateError)) cancelled++;
      } catch (err) {
        // One order that keeps failing must not hold up the others; the next sweep retries it.
        this.log?.error({ err, orderId: id }, 'could not expire order');
      }
    }
    return cancelled;
  }

  /** The current status of each order (for modules that follow orders they caused, such as flash sales). */
  async statusesOf(em: EntityManager, orderIds: string[]): Promise<Map<string, OrderStatus>> {
    if (orderIds.length === 0) return new Map();
    const rows = await sqlAll<{ id: string; status: OrderStatus }>(
      em,
      'select id, status from shop_order where id = any($1::bigint[])',
      [orderIds],
    );
    return new Map(rows.map((r) => [String(r.id), r.status]));
  }

  /** A hot order (the ones that can still change), as `principal` may see it. */
  async find(em: EntityManager, principal: Principal | null, id: string): Promise<Order | null> {
    if (!principal || !isId(id)) return null;
    const [row] = await sqlAll<OrderRow>(em, 'select * from shop_order where id = $1', [id]);
    const order = row && orderFromRow(row);
    return order && canSee(principal, order) ? order : null;
  }

  /** The `order` query: an order wherever it is, hot or archived, in one statement. */
  async findAnywhere(
    em: EntityManager,
    principal: Principal | null,
    id: string,
  ): Promise<(Order & { archived: boolean }) | null> {
    if (!principal || !isId(id)) return null;
    const [row] = await sqlAll<OrderRow & { archived: boolean }>(
      em,
      `select *, false as archived from shop_order where id = $1
       union all select *, true as archived from archive.shop_order where id = $1`,
      [id],
    );
    const order = row && { ...orderFromRow(row), archived: row.archived };
    return order && canSee(principal, order) ? order : null;
  }

  refuseArchived(em: EntityManager, principal: Principal, id: string): Promise<UserError | null> {
    return refuseArchived(em, principal, id);
  }

  async findCheckout(em: EntityManager, principal: Principal | null, id: string) {
    if (!principal || !isId(id)) return null;
    const [row] = await sqlAll<{ id: string; buyer_id: string; total: string; payment_deadline: Date }>(
      em,
      'select id, buyer_id, total, payment_deadline from checkout where id = $1',
      [id],
    );
    return row && (String(row.buyer_id) === principal.userId || isAdmin(principal)) ? row : null;
  }

  /** Buyers see their orders, merchants their shop's, admins all; newest first, keyset-paginated. */
  async list(
    em: EntityManager,
    principal: Principal,
    filter: OrderListFilter,
    first: number,
    after?: string | null,
  ) {
    checkPageSize(first, this.maxPageSize);
    let beforeId: string | null = null;
    if (after) {
      const [last] = decodeCursor(after, ['string']) as string[];
      if (!isId(last)) throw badInput('Malformed cursor', 'after');
      beforeId = last;
    }
    // One row more than asked: whether there is a next page.
    let page: OrderPage | null = null;
    if (!isAdmin(principal) && principal.merchantId && this.merchantLists) {
      const who = { merchantId: principal.merchantId, userId: principal.userId };
      page = await this.merchantLists.list(em, who, filter, first + 1, beforeId);
    }
    page ??= await this.listFromSource(em, principal, filter, first + 1, beforeId);
    const { rows, totalCount: n } = page;
    const items = rows.slice(0, first);
    return {
      items: items.map((r) => ({ row: r, cursor: encodeCursor([r.id]) })),
      hasNextPage: rows.length > first,
      totalCount: n,
    };
  }

  /** The page from `shop_order` itself (buyers, admins, and merchants when the store cannot answer). */
  private async listFromSource(
    em: EntityManager,
    principal: Principal,
    filter: OrderListFilter,
    limit: number,
    beforeId: string | null,
  ): Promise<OrderPage> {
    const params: unknown[] = [];
    const add = (v: unknown) => `$${params.push(v)}`;
    const conds: string[] = [];
    if (!isAdmin(principal)) {
      conds.push(
        principal.merchantId
          ? `(merchant_id = ${add(principal.merchantId)} or buyer_id = ${add(principal.userId)})`
          : `buyer_id = ${add(principal.userId)}`,
      );
    }
    conds.push(...orderFilterConditions(filter, add));
    const where = conds.length ? `where ${conds.join(' and ')}` : '';
    const countParams = [...params];
    const pageConds = [...conds];
    if (beforeId) pageConds.push(`id < ${add(beforeId)}::bigint`);
    const pageWhere = pageConds.length ? `where ${pageConds.join(' and ')}` : '';
    const from = filter.includeArchived === false ? 'shop_order' : ANY_ORDER;
    const [rows, [{ n }]] = await Promise.all([
      sqlAll<OrderRow>(
        em.fork() as EntityManager,
        `select * from ${from} ${pageWhere} order by id desc limit ${add(limit)}`,
        params,
        true,
      ),
      sqlAll<{ n: number }>(
        em.fork() as EntityManager,
        `select count(*)::int as n from ${from} ${where}`,
        countParams,
        true,
      ),
    ]);
    return { rows: rows.map(orderFromRow), totalCount: n };
  }
}
