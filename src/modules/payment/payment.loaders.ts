import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { PaymentRow } from './payment.store';

/** A payment with one order's share of it and of its refunds. */
export type OrderPaymentRow = PaymentRow & { order_amount: string; order_refunded: string };

/** Payments of checkouts and orders: the succeeded one first, else the newest attempt. */
export function paymentLoaders(em: EntityManager) {
  const pick = <R extends PaymentRow>(keys: readonly string[], rows: (R & { k: string })[]) => {
    const best = new Map<string, R>();
    for (const r of rows) if (!best.has(String(r.k))) best.set(String(r.k), r);
    return keys.map((k) => best.get(k) ?? null);
  };
  const settledFirst = `(p.status in ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED')) desc, p.id desc`;
  return {
    latestByCheckout: new DataLoader<string, PaymentRow | null>(async (ids) =>
      pick(
        ids,
        await sqlAll(
          em,
          `select p.*, p.checkout_id as k from payment p where p.checkout_id = any($1::bigint[]) order by ${settledFirst}`,
          [ids],
        ),
      ),
    ),
    /** With the order's own share of the payment and of its refunds (what its merchant sees). */
    byOrder: new DataLoader<string, OrderPaymentRow | null>(async (ids) =>
      pick(
        ids,
        await sqlAll<OrderPaymentRow & { k: string }>(
          em,
          `select p.*, po.order_id as k, po.amount as order_amount,
                  (select coalesce(sum(r.amount), 0) from refund r where r.payment_id = p.id and r.order_id = po.order_id) as order_refunded
             from payment p join payment_order po on po.payment_id = p.id where po.order_id = any($1::bigint[]) order by ${settledFirst}`,
          [ids],
        ),
      ),
    ),
  };
}
