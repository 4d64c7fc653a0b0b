import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { PaymentRow } from './payment.service';

/** Payments of checkouts and orders: the succeeded one first, else the newest attempt. */
export function paymentLoaders(em: EntityManager) {
  const pick = (keys: readonly string[], rows: (PaymentRow & { k: string })[]) => {
    const best = new Map<string, PaymentRow>();
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
    byOrder: new DataLoader<string, PaymentRow | null>(async (ids) =>
      pick(
        ids,
        await sqlAll(
          em,
          `select p.*, po.order_id as k from payment p join payment_order po on po.payment_id = p.id where po.order_id = any($1::bigint[]) order by ${settledFirst}`,
          [ids],
        ),
      ),
    ),
  };
}
