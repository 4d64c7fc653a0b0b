import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import type { Principal } from '../../shared/auth';
import { ErrorCode, UserError } from '../../shared/error-result';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { digest, withIdempotency } from '../../shared/idempotency';
import { isId } from '../../shared/ids';
import { recordOrderEvent } from '../events/order-events';
import { canSee, refuseArchived } from '../order/order.service';
import { OrderEventKind } from '../order/order.types';
import type { AfterSaleDeps } from './aftersale.deps';
import { AfterSaleKind, isRefundType, prorate, RELEASED_STATES, requestRefusal } from './aftersale.lifecycle';
import { lockOrder, type AfterSaleRow } from './aftersale.store';

export const REVIEW_JOB = 'aftersale.review-deadline';

export interface AfterSaleRequest {
  orderId: string;
  type: AfterSaleKind;
  lines: { orderLineId: string; quantity: number }[];
  reason: string;
  idempotencyKey: string;
}

export const MAX_LINES = 100;
export const MAX_QUANTITY = 10_000;
const KEY = /^[\x21-\x7e]{1,100}$/;

/** Malformed input is BAD_USER_INPUT before anything is read; returns the normalized request. */
function normalize(req: AfterSaleRequest): AfterSaleRequest {
  if (!KEY.test(req.idempotencyKey))
    throw badInput('idempotencyKey must be 1-100 printable ASCII characters', 'idempotencyKey');
  const reason = req.reason.trim();
  if (reason.length < 1 || reason.length > 500) throw badInput('reason must be 1-500 characters', 'reason');
  if (req.lines.length < 1 || req.lines.length > MAX_LINES)
    throw badInput(`lines must name 1-${MAX_LINES} order lines`, 'lines');
  const seen = new Set<string>();
  for (const l of req.lines) {
    if (!isId(l.orderLineId))
      throw badInput(`Order line ${l.orderLineId.slice(0, 40)} is not a line of this order`, 'lines');
    if (seen.has(l.orderLineId)) throw badInput(`Order line ${l.orderLineId} is named twice`, 'lines');
    seen.add(l.orderLineId);
    if (!Number.isInteger(l.quantity) || l.quantity < 1 || l.quantity > MAX_QUANTITY)
      throw badInput(`quantity must be 1-${MAX_QUANTITY}`, 'lines');
  }
  const lines = [...req.lines]
    .sort((a, b) => (BigInt(a.orderLineId) < BigInt(b.orderLineId) ? -1 : 1))
    .map((l) => ({ orderLineId: l.orderLineId, quantity: l.quantity }));
  return { ...req, reason, lines };
}

/**
 * The buyer asks for an after-sale. One transaction: the idempotency key (a retry with the same
 * key and input returns the first after-sale), then the order row's lock, under which the order's
 * state, the window and the unclaimed quantities are checked, so concurrent requests can never
 * claim more units than were bought. Writes the after-sale, its lines, the order event and the
 * review-deadline job, or nothing.
 */
export async function requestAfterSale(
  deps: AfterSaleDeps,
  em: EntityManager,
  principal: Principal,
  input: AfterSaleRequest,
): Promise<AfterSaleRow | UserError> {
  if (!isId(input.orderId)) throw notFound('Order', input.orderId.slice(0, 40));
  const req = normalize(input);
  const hash = digest({ orderId: req.orderId, type: req.type, lines: req.lines, reason: req.reason });
  return inTransaction<AfterSaleRow, UserError>(em, async (tx) => {
    return withIdempotency<AfterSaleRow, AfterSaleRow>(
      tx,
      {
        callerId: principal.userId,
        scope: 'after-sale',
        key: req.idempotencyKey,
        requestHash: hash,
        subject: 'a different after-sale request',
        storedSql: 'select * from after_sale where id = k.result_ref::bigint',
      },
      { run: (id) => placeRequest(deps, tx, principal, req, id), replay: (_id, stored) => stored! },
    );
  });
}

/** The request itself, the first time its key is used (under the order's row lock). */
async function placeRequest(
  deps: AfterSaleDeps,
  tx: EntityManager,
  principal: Principal,
  req: ReturnType<typeof normalize>,
  afterSaleId: string,
): Promise<AfterSaleRow> {
  const fail = (message: string, field?: string) =>
    new Rollback(UserError.of(ErrorCode.AFTER_SALE_NOT_ALLOWED, message, field));
  const order = await lockOrder(tx, req.orderId);
  if (!order) {
    const archived = await refuseArchived(tx, principal, req.orderId);
    if (archived) throw new Rollback(archived);
  }
  if (!order || !canSee(principal, order)) throw notFound('Order', req.orderId);
  if (order.buyerId !== principal.userId) throw forbidden('Only the buyer can ask for an after-sale');
  const refusal = requestRefusal(
    req.type,
    { status: order.status, deliveredAt: order.deliveredAt ?? order.completedAt },
    order.checkedAt,
    deps.settings.windowDays,
  );
  if (refusal) throw fail(refusal);

  // What each line sold, what is claimed by the order's live after-sales, and what was refunded.
  const lines = await sqlAll<{
    id: string;
    quantity: number;
    total: string;
    claimed: number;
    refund_claimed: number;
    refunded: number;
  }>(
    tx,
    `select ol.id, ol.quantity, ol.total,
            coalesce(sum(asl.quantity) filter (where a.status <> all($2::text[])), 0)::int as claimed,
            coalesce(sum(asl.quantity) filter (where a.status <> all($2::text[]) and a.type <> 'EXCHANGE'), 0)::int as refund_claimed,
            coalesce(sum(asl.quantity) filter (where a.status = 'REFUNDED'), 0)::int as refunded
       from order_line ol
       left join after_sale_line asl on asl.order_line_id = ol.id
       left join after_sale a on a.id = asl.after_sale_id
      where ol.order_id = $1 and ol.id = any($3::bigint[])
      group by ol.id`,
    [req.orderId, RELEASED_STATES, req.lines.map((l) => l.orderLineId)],
  );
  const byId = new Map(lines.map((l) => [String(l.id), l]));
  let expected = 0;
  for (const l of req.lines) {
    const line = byId.get(l.orderLineId);
    if (!line) throw badInput(`Order line ${l.orderLineId} is not a line of this order`, 'lines');
    const left = line.quantity - line.claimed;
    if (l.quantity > left) {
      throw fail(
        `Order line ${l.orderLineId}: ${l.quantity} requested, but only ${left} of ${line.quantity} bought are not claimed already`,
        'lines',
      );
    }
    // The expected refund, as if the claims before this one are refunded first; fixed when paid.
    if (isRefundType(req.type))
      expected += prorate(Number(line.total), line.quantity, line.refund_claimed, l.quantity);
  }

  const [as] = await sqlAll<AfterSaleRow>(
    tx,
    `insert into after_sale (id, order_id, buyer_id, merchant_id, type, reason, review_deadline, refund_amount)
     values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8) returning *`,
    [
      afterSaleId,
      req.orderId,
      order.buyerId,
      order.merchantId,
      req.type,
      req.reason,
      deps.settings.reviewSeconds,
      isRefundType(req.type) ? expected : null,
    ],
  );
  await sqlAll(
    tx,
    `insert into after_sale_line (after_sale_id, order_line_id, buyer_id, quantity)
     select $1, u.line, $2, u.q from unnest($3::bigint[], $4::int[]) as u(line, q)`,
    [as.id, order.buyerId, req.lines.map((l) => l.orderLineId), req.lines.map((l) => l.quantity)],
  );
  await recordOrderEvent(tx, {
    orderId: req.orderId,
    type: OrderEventKind.AFTER_SALE_UPDATED,
    afterSaleId: String(as.id),
  });
  await deps.jobs.send(
    REVIEW_JOB,
    { afterSaleId: String(as.id) },
    { em: tx, startAfter: as.review_deadline },
  );
  return as;
}
