import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { canManage, type Principal } from '../../shared/auth';
import { ErrorCode, UserError, isErrorResult } from '../../shared/error-result';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { insertShipment } from '../fulfillment/shipment.store';
import { canSee } from '../order/order.service';
import type { AfterSaleDeps } from './aftersale.deps';
import { refundAfterSale, restockAfterSale } from './aftersale.refund';
import { AfterSaleKind, AfterSaleStatus } from './aftersale.lifecycle';
import { lockAfterSale, moveAfterSale, partiesOf, type AfterSaleRow } from './aftersale.store';

const notAllowed = (message: string) => new Rollback(UserError.of(ErrorCode.AFTER_SALE_NOT_ALLOWED, message));

export interface Parcel {
  carrier: string;
  trackingNumber: string;
}

function parcel(carrier: string, trackingNumber: string, prefix = ''): Parcel {
  const c = carrier.trim();
  const n = trackingNumber.trim();
  if (c.length < 1 || c.length > 100)
    throw badInput('carrier must be 1-100 characters', `${prefix}${prefix ? 'Carrier' : 'carrier'}`);
  if (n.length < 1 || n.length > 100)
    throw badInput(
      'trackingNumber must be 1-100 characters',
      `${prefix}${prefix ? 'TrackingNumber' : 'trackingNumber'}`,
    );
  return { carrier: c, trackingNumber: n };
}

async function shipmentOf(tx: EntityManager, id: string | null): Promise<Parcel | null> {
  if (!id) return null;
  const [s] = await sqlAll<{ carrier: string; tracking_number: string }>(
    tx,
    'select carrier, tracking_number from shipment where id = $1',
    [id],
  );
  return s ? { carrier: s.carrier, trackingNumber: s.tracking_number } : null;
}

const sameParcel = (a: Parcel | null, b: Parcel) =>
  !!a && a.carrier === b.carrier && a.trackingNumber === b.trackingNumber;

/**
 * The buyer reports the return parcel of an approved return or exchange: a RETURN shipment is
 * created (tracked like any other) and the after-sale is RETURN_SHIPPED. Repeating the same
 * parcel returns the after-sale unchanged.
 */
export async function returnShip(
  em: EntityManager,
  principal: Principal,
  id: string,
  carrier: string,
  trackingNumber: string,
): Promise<AfterSaleRow | UserError> {
  if (!isId(id)) throw notFound('AfterSale', id.slice(0, 40));
  const p = parcel(carrier, trackingNumber);
  return inTransaction<AfterSaleRow, UserError>(em, async (tx) => {
    const locked = await lockAfterSale(tx, id);
    if (!locked || !canSee(principal, partiesOf(locked.as))) throw notFound('AfterSale', id);
    const { as } = locked;
    if (String(as.buyer_id) !== principal.userId) throw forbidden('Only the buyer ships the return parcel');
    if (as.type === AfterSaleKind.REFUND_ONLY)
      throw notAllowed('A refund-only request has nothing to send back');
    if (as.status !== AfterSaleStatus.APPROVED) {
      if (as.return_shipment_id && sameParcel(await shipmentOf(tx, as.return_shipment_id), p)) return as;
      throw notAllowed(
        as.return_shipment_id
          ? 'The return parcel was already reported'
          : `A return can be shipped once the request is approved (it is ${as.status})`,
      );
    }
    const shipment = await insertShipment(tx, {
      orderId: String(as.order_id),
      kind: 'RETURN',
      carrier: p.carrier,
      trackingNumber: p.trackingNumber,
      afterSaleId: String(as.id),
    });
    return (await moveAfterSale(tx, as, AfterSaleStatus.RETURN_SHIPPED, {
      returnShipmentId: String(shipment.id),
    }))!;
  });
}

/**
 * The merchant confirms the return arrived. RETURN_AND_REFUND: the units go back to stock and the
 * refund is paid; EXCHANGE: the replacement ships (an EXCHANGE shipment). All in one transaction;
 * repeating it returns the after-sale unchanged.
 */
export async function receiveReturn(
  deps: AfterSaleDeps,
  em: EntityManager,
  principal: Principal,
  id: string,
  exchangeCarrier: string | null,
  exchangeTrackingNumber: string | null,
): Promise<AfterSaleRow | UserError> {
  if (!isId(id)) throw notFound('AfterSale', id.slice(0, 40));
  const given = exchangeCarrier !== null || exchangeTrackingNumber !== null;
  return inTransaction<AfterSaleRow, UserError>(em, async (tx) => {
    const locked = await lockAfterSale(tx, id);
    if (!locked || !canSee(principal, partiesOf(locked.as))) throw notFound('AfterSale', id);
    const { as } = locked;
    if (!canManage(principal, String(as.merchant_id)))
      throw forbidden("Only the order's merchant confirms a return");
    const exchange = as.type === AfterSaleKind.EXCHANGE;
    if (exchange && (!exchangeCarrier || !exchangeTrackingNumber)) {
      throw badInput(
        'An exchange ships its replacement: exchangeCarrier and exchangeTrackingNumber are required',
        'exchangeTrackingNumber',
      );
    }
    if (!exchange && given)
      throw badInput('exchangeCarrier and exchangeTrackingNumber are for exchanges only', 'exchangeCarrier');
    const out = exchange ? parcel(exchangeCarrier!, exchangeTrackingNumber!, 'exchange') : null;
    if (as.type === AfterSaleKind.REFUND_ONLY)
      throw notAllowed('A refund-only request has nothing to receive');

    if (as.status !== AfterSaleStatus.RETURN_SHIPPED) {
      const received = exchange ? as.exchange_shipment_id !== null : as.status === AfterSaleStatus.REFUNDED;
      if (received && (!out || sameParcel(await shipmentOf(tx, as.exchange_shipment_id), out))) return as;
      throw notAllowed(
        received
          ? 'The replacement already shipped with another parcel'
          : `Only a shipped return can be received (it is ${as.status})`,
      );
    }
    const arrived = (await moveAfterSale(tx, as, AfterSaleStatus.RECEIVED))!;
    if (!exchange) {
      await restockAfterSale(tx, arrived);
      const r = await refundAfterSale(deps, tx, arrived);
      if (isErrorResult(r)) throw new Rollback(r);
      return r;
    }
    const shipment = await insertShipment(tx, {
      orderId: String(as.order_id),
      kind: 'EXCHANGE',
      carrier: out!.carrier,
      trackingNumber: out!.trackingNumber,
      afterSaleId: String(as.id),
    });
    return (await moveAfterSale(tx, arrived, AfterSaleStatus.EXCHANGE_SHIPPED, {
      exchangeShipmentId: String(shipment.id),
    }))!;
  });
}

/**
 * A carrier reported a shipment DELIVERED: if it is an exchange's replacement, that exchange is
 * COMPLETED, in the caller's transaction (the logistics webhook's). Returns whether it completed one.
 */
export async function completeExchangeInTransaction(tx: EntityManager, shipmentId: string): Promise<boolean> {
  const [s] = await sqlAll<{ after_sale_id: string | null; kind: string; status: string }>(
    tx,
    'select after_sale_id, kind, status from shipment where id = $1',
    [shipmentId],
  );
  if (!s?.after_sale_id || s.kind !== 'EXCHANGE' || s.status !== 'DELIVERED') return false;
  const locked = await lockAfterSale(tx, String(s.after_sale_id));
  if (
    !locked ||
    locked.as.status !== AfterSaleStatus.EXCHANGE_SHIPPED ||
    String(locked.as.exchange_shipment_id) !== String(shipmentId)
  )
    return false;
  return (await moveAfterSale(tx, locked.as, AfterSaleStatus.COMPLETED)) !== null;
}

/** The sweep: completes every exchange whose replacement was delivered, each in its own transaction. */
export async function completeDeliveredExchanges(deps: AfterSaleDeps, em: EntityManager): Promise<number> {
  const due = await sqlAll<{ shipment_id: string }>(
    em,
    `select s.id as shipment_id from after_sale a join shipment s on s.id = a.exchange_shipment_id
      where a.status = 'EXCHANGE_SHIPPED' and s.status = 'DELIVERED' order by a.id limit 200`,
  );
  let done = 0;
  for (const { shipment_id } of due) {
    try {
      if (await inTransaction(em, (tx) => completeExchangeInTransaction(tx, String(shipment_id)))) done++;
    } catch (err) {
      deps.log.error({ err, shipmentId: shipment_id }, 'could not complete exchange');
    }
  }
  return done;
}
