import { StateMachine, type EntryEffects } from '../../shared/state-machine';

/*
 * The order lifecycle in one place: the states, every allowed move, who moves an order into each
 * state and what entering it does. No GraphQL here: the enum is registered in order.types.ts.
 */

export enum OrderStatus {
  PENDING_PAYMENT = 'PENDING_PAYMENT',
  PAID = 'PAID',
  SHIPPED = 'SHIPPED',
  DELIVERED = 'DELIVERED',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
  REFUNDED = 'REFUNDED',
}

/**
 * The order lifecycle: every allowed move; anything else is an OrderStateError.
 * - Unpaid orders are paid, or cancelled (by the buyer, or when the payment window closes).
 * - Paid orders ship; a full refund before delivery ends them as REFUNDED.
 * - Delivered orders complete (confirmed by the buyer, or automatically some days later).
 * - An after-sale refund can refund a delivered or completed order.
 */
export const orderLifecycle = new StateMachine<OrderStatus>({
  [OrderStatus.PENDING_PAYMENT]: [OrderStatus.PAID, OrderStatus.CANCELLED],
  [OrderStatus.PAID]: [OrderStatus.SHIPPED, OrderStatus.REFUNDED],
  [OrderStatus.SHIPPED]: [OrderStatus.DELIVERED, OrderStatus.REFUNDED],
  [OrderStatus.DELIVERED]: [OrderStatus.COMPLETED, OrderStatus.REFUNDED],
  [OrderStatus.COMPLETED]: [OrderStatus.REFUNDED],
  [OrderStatus.CANCELLED]: [],
  [OrderStatus.REFUNDED]: [],
});

/**
 * What every move does, whatever the state: one conditional UPDATE (of two racing moves exactly one
 * wins), a new version, and a STATUS_CHANGED order event in the same transaction. The outbox relay
 * publishes the event after the commit to subscriptions, partner webhooks, the seller store and the
 * sales rollups.
 */
export const everyOrderMove: readonly { does: string; by: string }[] = [
  {
    does: 'conditional UPDATE from the allowed sources, version + 1',
    by: 'order/order.service.ts#transition',
  },
  { does: 'STATUS_CHANGED order event (outbox)', by: 'events/order-events.ts#insertEvent' },
  { does: 'after commit: subscriptions, webhooks, seller store, rollups', by: 'events/relay.ts#OutboxRelay' },
];

/** Who moves an order into each state, and what entering it does (in that same transaction). */
export const orderEntry: EntryEffects<OrderStatus> = {
  [OrderStatus.PENDING_PAYMENT]: {
    enteredBy: [
      {
        does: 'checkoutCreate: one order per merchant of the cart',
        by: 'checkout/checkout.service.ts#place',
      },
      {
        does: 'flash-sale worker: one order per accepted entry',
        by: 'checkout/checkout.service.ts#placeFlashSaleOrders',
      },
    ],
    effects: [
      {
        does: 'orders, lines, reservations, first event, cart CONVERTED: one statement',
        by: 'order/order.store.ts#writeCheckout',
      },
      { does: 'coupon use and points taken', by: 'checkout/checkout.steps.ts#redeemCoupon' },
      {
        does: 'stock reserved (RESERVE_ON_ORDER) or taken (DEDUCT_ON_ORDER)',
        by: 'inventory/inventory.store.ts#takeStock',
      },
      {
        does: 'expiry job at the payment deadline (cancels what is still unpaid)',
        by: 'order/order.service.ts#expireCheckout',
      },
    ],
  },
  [OrderStatus.PAID]: {
    enteredBy: [
      {
        does: 'payment settlement (card callback or poll, general balance path)',
        by: 'payment/settlement.ts#settlePayment',
      },
      { does: 'paymentStart(BALANCE) in the common case', by: 'payment/balance-payment.ts#payByBalance' },
    ],
    effects: [
      {
        does: 'DEDUCT_ON_PAYMENT lines take their stock (or the order is cancelled and its share refunded)',
        by: 'inventory/inventory.store.ts#takeStockOnPayment',
      },
      { does: 'reservations become sold stock', by: 'inventory/inventory.store.ts#convertReservations' },
      {
        does: 'ledger: the buyer pays, the merchant escrow and the platform fee receive',
        by: 'payment/settlement.ts#postPurchase',
      },
      {
        does: 'orders of the payment that can no longer be paid: their share refunded at once',
        by: 'payment/settlement.ts#refundUnpaidShares',
      },
    ],
  },
  [OrderStatus.SHIPPED]: {
    enteredBy: [{ does: 'orderShip by the merchant', by: 'fulfillment/fulfillment.service.ts#ship' }],
    effects: [
      { does: 'the order shipment (LABEL_CREATED)', by: 'fulfillment/shipment.store.ts#insertShipment' },
    ],
  },
  [OrderStatus.DELIVERED]: {
    enteredBy: [
      {
        does: 'the carrier reports the order shipment DELIVERED',
        by: 'fulfillment/tracking.service.ts#delivered',
      },
    ],
    effects: [
      { does: 'delivered_at set: the after-sale window opens', by: 'order/order.service.ts#transition' },
      {
        does: 'auto-completion job after ORDER_AUTO_COMPLETE',
        by: 'fulfillment/completion.service.ts#scheduleAutoComplete',
      },
    ],
  },
  [OrderStatus.COMPLETED]: {
    enteredBy: [
      { does: 'orderConfirmReceipt by the buyer', by: 'fulfillment/completion.service.ts#confirm' },
      {
        does: 'the auto-completion job, and its backstop sweep',
        by: 'fulfillment/completion.service.ts#completeDue',
      },
    ],
    effects: [
      { does: 'completed_at set', by: 'order/order.service.ts#transition' },
      {
        does: 'escrow released to the merchant (what was not refunded)',
        by: 'fulfillment/completion.service.ts#completeInTransaction',
      },
      {
        does: 'loyalty points for what the buyer kept',
        by: 'fulfillment/completion.service.ts#completeInTransaction',
      },
    ],
  },
  [OrderStatus.CANCELLED]: {
    enteredBy: [
      { does: 'orderCancel by the buyer or an admin', by: 'order/order.service.ts#cancel' },
      {
        does: 'the expiry job and sweep (payment window closed)',
        by: 'order/order.service.ts#expireCheckout',
      },
      {
        does: 'settlement: paid too late, or DEDUCT_ON_PAYMENT stock ran out',
        by: 'payment/settlement.ts#payOrCancelEach',
      },
    ],
    effects: [
      {
        does: "coupon use released with the checkout's last open order",
        by: 'pricing/pricing.service.ts#release',
      },
      { does: 'points given back', by: 'order/order.service.ts#cancelInTransaction' },
      { does: 'reserved or taken stock given back', by: 'inventory/inventory.store.ts#releaseOrderStock' },
    ],
  },
  [OrderStatus.REFUNDED]: {
    enteredBy: [
      {
        does: 'a refund (admin, after-sale) that reaches what was paid for the order',
        by: 'payment/refund.service.ts#refundOrderInTransaction',
      },
    ],
    effects: [
      {
        does: "nothing more: the refund itself moved the money (escrow, or the merchant's available balance after completion)",
        by: 'payment/refund.service.ts#refundOrderInTransaction',
      },
    ],
  },
};
