import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { canManage, type Principal } from '../../shared/auth';
import { ErrorCode, UserError, isErrorResult } from '../../shared/error-result';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { canSee, type Order } from '../order/order.service';
import { OrderStatus } from '../order/order.lifecycle';
import type { AfterSaleDeps } from './aftersale.deps';
import { refundAfterSale, restockAfterSale } from './aftersale.refund';
import { AfterSaleKind, AfterSaleStatus, RELEASED_STATES } from './aftersale.lifecycle';
import { lockAfterSale, moveAfterSale, partiesOf, type AfterSaleRow } from './aftersale.store';

export interface ReviewInput {
  approve: boolean;
  note: string | null;
  returnAddress: object | null;
}

const notAllowed = (message: string) => UserError.of(ErrorCode.AFTER_SALE_NOT_ALLOWED, message);

/** The most recent return address this merchant gave on an approval (the default for the next ones). */
async function lastReturnAddress(tx: EntityManager, merchantId: string): Promise<object | null> {
  const [row] = await sqlAll<{ return_address: object }>(
    tx,
    `select return_address from after_sale where merchant_id = $1 and return_address is not null order by reviewed_at desc nulls last, id desc limit 1`,
    [merchantId],
  );
  return row?.return_address ?? null;
}

/**
 * Approves a REQUESTED after-sale in the caller's transaction (which holds the order's lock).
 * REFUND_ONLY is refunded at once (and restocked when the order has not shipped); the return types
 * wait for the buyer's parcel at the return address. An order already REFUNDED in full leaves
 * nothing to do: the request is CANCELLED. `reviewer` null: the deadline approved it.
 */
export async function approveInTransaction(
  deps: AfterSaleDeps,
  tx: EntityManager,
  as: AfterSaleRow,
  order: Order,
  reviewer: string | null,
  address: object | null,
  note: string | null = null,
): Promise<AfterSaleRow | UserError> {
  if (order.status === OrderStatus.REFUNDED) {
    return (await moveAfterSale(tx, as, AfterSaleStatus.CANCELLED, {
      reviewedBy: reviewer,
      reviewNote: 'The order was refunded in full otherwise',
    }))!;
  }
  if (as.type === AfterSaleKind.REFUND_ONLY) {
    const approved = (await moveAfterSale(tx, as, AfterSaleStatus.APPROVED, {
      reviewedBy: reviewer,
      reviewNote: note,
    }))!;
    // Not shipped yet: the refunded units never left, so they are available again.
    if (order.status === OrderStatus.PAID) await restockAfterSale(tx, approved);
    return refundAfterSale(deps, tx, approved);
  }
  const returnAddress = address ?? (await lastReturnAddress(tx, String(as.merchant_id)));
  if (!returnAddress && reviewer !== null)
    throw badInput('Approving a return needs a returnAddress the buyer sends the parcel to', 'returnAddress');
  return (await moveAfterSale(tx, as, AfterSaleStatus.APPROVED, {
    reviewedBy: reviewer,
    reviewNote: note,
    returnAddress,
  }))!;
}

/**
 * The merchant (or an admin) decides. Serialized with every other change of the order by its row
 * lock; the first decision wins. The same decision again returns the after-sale as it is now (a
 * retry, or the deadline approved it first); the opposite one is AFTER_SALE_NOT_ALLOWED.
 */
export async function reviewAfterSale(
  deps: AfterSaleDeps,
  em: EntityManager,
  principal: Principal,
  id: string,
  input: ReviewInput,
): Promise<AfterSaleRow | UserError> {
  if (!isId(id)) throw notFound('AfterSale', id.slice(0, 40));
  const note = input.note?.trim() || null;
  if (!input.approve && !note) throw badInput('Rejecting needs a note for the buyer', 'note');
  if (note && note.length > 500) throw badInput('note must be at most 500 characters', 'note');
  return inTransaction<AfterSaleRow, UserError>(em, async (tx) => {
    const locked = await lockAfterSale(tx, id);
    if (!locked || !canSee(principal, partiesOf(locked.as))) throw notFound('AfterSale', id);
    if (!canManage(principal, String(locked.as.merchant_id)))
      throw forbidden("Only the order's merchant reviews after-sale requests");
    const { as, order } = locked;
    if (as.status !== AfterSaleStatus.REQUESTED) {
      const wasApproved = !RELEASED_STATES.includes(as.status);
      if (input.approve === wasApproved) return as;
      throw new Rollback(
        notAllowed(`This request was already ${wasApproved ? 'approved' : as.status.toLowerCase()}`),
      );
    }
    if (!input.approve)
      return (await moveAfterSale(tx, as, AfterSaleStatus.REJECTED, {
        reviewedBy: principal.userId,
        reviewNote: note,
      }))!;
    const r = await approveInTransaction(deps, tx, as, order, principal.userId, input.returnAddress, note);
    if (isErrorResult(r)) throw new Rollback(r);
    return r;
  });
}

/**
 * The review deadline passed: approve if still REQUESTED (the job and the sweep both call this;
 * a decision that came first makes it a no-op). Returns whether it approved.
 */
export async function autoApprove(deps: AfterSaleDeps, em: EntityManager, id: string): Promise<boolean> {
  const r = await inTransaction<AfterSaleRow | null, UserError>(em, async (tx) => {
    const locked = await lockAfterSale(tx, id);
    if (
      !locked ||
      locked.as.status !== AfterSaleStatus.REQUESTED ||
      locked.as.review_deadline > locked.order.checkedAt
    )
      return null;
    const approved = await approveInTransaction(deps, tx, locked.as, locked.order, null, null);
    if (isErrorResult(approved)) throw new Rollback(approved);
    return approved;
  });
  if (isErrorResult(r)) {
    // e.g. the merchant's balance cannot cover the refund yet: the sweep tries again.
    deps.log.warn({ afterSaleId: id, error: r.message }, 'after-sale could not be approved automatically');
    return false;
  }
  return r !== null;
}

/** The backstop: every request past its review deadline, whatever happened to its job. */
export async function approveOverdue(deps: AfterSaleDeps, em: EntityManager, limit = 200): Promise<number> {
  const due = await sqlAll<{ id: string }>(
    em,
    `select id from after_sale where status = 'REQUESTED' and review_deadline <= now() order by review_deadline limit $1`,
    [limit],
  );
  let approved = 0;
  for (const { id } of due) {
    try {
      if (await autoApprove(deps, em, String(id))) approved++;
    } catch (err) {
      deps.log.error({ err, afterSaleId: id }, 'could not approve overdue after-sale');
    }
  }
  return approved;
}
