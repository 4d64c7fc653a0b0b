import { registerEnumType } from 'type-graphql';
import { StateMachine } from '../../shared/state-machine';

export enum OrderStatus {
  PENDING_PAYMENT = 'PENDING_PAYMENT',
  PAID = 'PAID',
  SHIPPED = 'SHIPPED',
  DELIVERED = 'DELIVERED',
  COMPLETED = 'COMPLETED',
  CANCELLED = 'CANCELLED',
  REFUNDED = 'REFUNDED',
}
registerEnumType(OrderStatus, { name: 'OrderStatus', description: 'Where an order is in its lifecycle.' });

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
