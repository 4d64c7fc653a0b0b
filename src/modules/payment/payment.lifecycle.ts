import { StateMachine, type EntryEffects } from '../../shared/state-machine';

/*
 * The payment lifecycle in one place: states, moves, who moves a payment into each state and what
 * entering it does. No GraphQL here: the enums are registered in payment.types.ts.
 */

export enum PaymentStatus {
  PENDING = 'PENDING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  REFUNDED = 'REFUNDED',
  PARTIALLY_REFUNDED = 'PARTIALLY_REFUNDED',
}

export enum PaymentMethod {
  CARD = 'CARD',
  BALANCE = 'BALANCE',
}

/**
 * The payment lifecycle. The provider decides PENDING's outcome; a decline (FAILED) is final for
 * that payment (a retry is a new payment with a new key). Refunds move a settled payment on; no
 * event moves a payment back out of a final state, whatever order events arrive in. The one
 * exception is the provider's word against ours: a payment we cancelled at the deadline that the
 * provider reports as paid is SUCCEEDED (and then refunded), because the money was taken.
 */
export const paymentLifecycle = new StateMachine<PaymentStatus>({
  [PaymentStatus.PENDING]: [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED],
  [PaymentStatus.SUCCEEDED]: [PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED],
  [PaymentStatus.PARTIALLY_REFUNDED]: [PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED],
  [PaymentStatus.FAILED]: [],
  [PaymentStatus.CANCELLED]: [PaymentStatus.SUCCEEDED],
  [PaymentStatus.REFUNDED]: [],
});

/** A provider's news, from its signed callback or from the poll: every outcome of a card payment goes through here. */
const providerNews = {
  does: 'provider callback (each event id once) or poll of a payment pending too long',
  by: 'payment/provider-outcomes.ts#applyOutcome',
};

/** Who moves a payment into each state, and what entering it does (in that same transaction). */
export const paymentEntry: EntryEffects<PaymentStatus> = {
  [PaymentStatus.PENDING]: {
    enteredBy: [
      { does: "paymentStart(CARD) for a checkout's unpaid orders", by: 'payment/payment.service.ts#start' },
      { does: 'accountTopUp (card only)', by: 'payment/payment.service.ts#topUp' },
    ],
    effects: [
      {
        does: 'the payment and its share of each order (payment_order), under the idempotency key',
        by: 'payment/payment.service.ts#start',
      },
      {
        does: 'after commit: the payment is created at the provider (the payment id is its idempotency key)',
        by: 'payment/payment.service.ts#openAtProvider',
      },
      {
        does: 'polled after PAYMENT_POLL_AFTER_SECONDS; cancelled at the provider once its window closes',
        by: 'payment/provider-outcomes.ts#reconcile',
      },
    ],
  },
  [PaymentStatus.SUCCEEDED]: {
    enteredBy: [
      providerNews,
      { does: 'paymentStart(BALANCE): settles at once', by: 'payment/payment.service.ts#start' },
      {
        does: 'paymentStart(BALANCE) in the common case, in three statements',
        by: 'payment/balance-payment.ts#payByBalance',
      },
    ],
    effects: [
      {
        does: 'a checkout payment: its orders become PAID, or cancelled and refunded (order.lifecycle.ts, PAID)',
        by: 'payment/settlement.ts#settlePayment',
      },
      { does: "a top-up: the ledger credits the user's balance", by: 'payment/settlement.ts#settleTopUp' },
    ],
  },
  [PaymentStatus.FAILED]: {
    enteredBy: [providerNews],
    effects: [
      {
        does: 'failure_reason "declined"; the orders stay unpaid until their window closes (a retry is a new payment)',
        by: 'payment/provider-outcomes.ts#applyOutcome',
      },
    ],
  },
  [PaymentStatus.CANCELLED]: {
    enteredBy: [
      providerNews,
      {
        does: 'the poll, when the payment window closed before the provider had the payment',
        by: 'payment/provider-outcomes.ts#reconcileOne',
      },
    ],
    effects: [{ does: 'failure_reason "cancelled"', by: 'payment/provider-outcomes.ts#applyOutcome' }],
  },
  [PaymentStatus.PARTIALLY_REFUNDED]: {
    enteredBy: [
      {
        does: 'a refund of part of what was paid (admin, after-sale, an order that could not be paid)',
        by: 'payment/refund.service.ts#refundOrderInTransaction',
      },
    ],
    effects: [
      {
        does: 'the refund row, refunded += amount; a card refund is paid out by a job at the provider',
        by: 'payment/refund.service.ts#execute',
      },
      {
        does: "the provider's refund.succeeded callback confirms it",
        by: 'payment/refund.service.ts#confirm',
      },
    ],
  },
  [PaymentStatus.REFUNDED]: {
    enteredBy: [
      {
        does: 'a refund that reaches the amount paid',
        by: 'payment/refund.service.ts#refundOrderInTransaction',
      },
      {
        does: 'settlement: every order of the payment could not be paid any more',
        by: 'payment/settlement.ts#refundUnpaidShares',
      },
    ],
    effects: [
      {
        does: 'as PARTIALLY_REFUNDED; the order whose share is refunded in full becomes REFUNDED',
        by: 'payment/refund.service.ts#refundOrderInTransaction',
      },
    ],
  },
};
