import { registerEnumType } from 'type-graphql';
import { StateMachine } from '../../shared/state-machine';

export enum PaymentStatus {
  PENDING = 'PENDING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  REFUNDED = 'REFUNDED',
  PARTIALLY_REFUNDED = 'PARTIALLY_REFUNDED',
}
registerEnumType(PaymentStatus, { name: 'PaymentStatus', description: 'Where a payment is.' });

export enum PaymentMethod {
  CARD = 'CARD',
  BALANCE = 'BALANCE',
}
registerEnumType(PaymentMethod, {
  name: 'PaymentMethod',
  description: 'CARD goes through the provider; BALANCE settles at once from the account.',
});

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
