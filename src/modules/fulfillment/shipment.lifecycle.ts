import { StateMachine, type EntryEffects } from '../../shared/state-machine';

/*
 * The shipment lifecycle in one place: states, moves, and what entering each state does. No
 * GraphQL here: the enum is registered in fulfillment.types.ts.
 */

export enum ShipmentStatus {
  LABEL_CREATED = 'LABEL_CREATED',
  IN_TRANSIT = 'IN_TRANSIT',
  OUT_FOR_DELIVERY = 'OUT_FOR_DELIVERY',
  DELIVERED = 'DELIVERED',
  EXCEPTION = 'EXCEPTION',
}

const S = ShipmentStatus;

/**
 * The shipment lifecycle, as carriers report it. Carriers skip scans and lose events, so a label
 * may be followed directly by any later status. OUT_FOR_DELIVERY may fall back to IN_TRANSIT (a
 * failed delivery attempt goes back to the depot), and an EXCEPTION (damage, customs, wrong
 * address) may be resolved into any moving status. DELIVERED is final: it is what completes the
 * order, and an order never goes back from DELIVERED to SHIPPED.
 *
 * A report of the current status again (another IN_TRANSIT scan) is not a move; the webhook
 * treats it as a refresh of a non-final status.
 */
export const shipmentLifecycle = new StateMachine<ShipmentStatus>({
  [S.LABEL_CREATED]: [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION],
  [S.IN_TRANSIT]: [S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION],
  [S.OUT_FOR_DELIVERY]: [S.IN_TRANSIT, S.DELIVERED, S.EXCEPTION],
  [S.EXCEPTION]: [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED],
  [S.DELIVERED]: [],
});

/**
 * Whether a carrier report of `to` may set a shipment that is at `from`: a move of the lifecycle,
 * or the same non-final status reported again (a newer scan).
 */
export const acceptsReport = (from: ShipmentStatus, to: ShipmentStatus): boolean =>
  from === to ? !shipmentLifecycle.isFinal(from) : shipmentLifecycle.can(from, to);

/** Every carrier move: the tracking event, the new status and version, a SHIPMENT_UPDATED order event. */
const carrierMove = {
  does: 'carrier report (logistics webhook): tracking event, status, SHIPMENT_UPDATED order event',
  by: 'fulfillment/tracking.service.ts#handle',
};

/**
 * Who moves a shipment into each state and what entering it does. A shipment is the order going
 * out (kind ORDER), a return coming back (RETURN) or an exchange's replacement going out (EXCHANGE).
 */
export const shipmentEntry: EntryEffects<ShipmentStatus> = {
  [S.LABEL_CREATED]: {
    enteredBy: [
      { does: 'orderShip (ORDER; the order becomes SHIPPED)', by: 'fulfillment/fulfillment.service.ts#ship' },
      { does: 'afterSaleReturnShip (RETURN)', by: 'aftersale/aftersale.returns.ts#returnShip' },
      {
        does: 'afterSaleReceive of an exchange (EXCHANGE)',
        by: 'aftersale/aftersale.returns.ts#receiveReturn',
      },
    ],
    effects: [
      {
        does: 'the shipment row, its tracking number unique per carrier while active',
        by: 'fulfillment/shipment.store.ts#insertShipment',
      },
    ],
  },
  [S.IN_TRANSIT]: { enteredBy: [carrierMove], effects: [] },
  [S.OUT_FOR_DELIVERY]: { enteredBy: [carrierMove], effects: [] },
  [S.EXCEPTION]: { enteredBy: [carrierMove], effects: [] },
  [S.DELIVERED]: {
    enteredBy: [carrierMove],
    effects: [
      {
        does: 'ORDER shipment: the order becomes DELIVERED and its auto-completion is scheduled',
        by: 'fulfillment/tracking.service.ts#delivered',
      },
      {
        does: 'EXCHANGE shipment: its after-sale becomes COMPLETED (a delivered-listener)',
        by: 'aftersale/aftersale.returns.ts#completeExchangeInTransaction',
      },
      {
        does: 'the tracking number is free again for this carrier',
        by: 'fulfillment/shipment.store.ts#assertTrackingFree',
      },
    ],
  },
};
