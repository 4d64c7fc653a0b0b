import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction } from '../../db/transaction';
import type { CartLimits } from './cart.deps';
import { CART_ID, newCartId, type CartRow } from './cart.view';

/*
 * A cart's life around its owner: the customer's one active cart, the anonymous cart merged into
 * it at sign-in, and the purge of carts nobody will use again.
 */

/**
 * Merges an anonymous cart into the customer's cart, exactly once: the anonymous cart is locked
 * and marked MERGED in the same transaction, so a repeated or concurrent sign-in with the same
 * cart id finds nothing left to merge. Quantities of one variant add up, capped per line.
 */
export async function mergeIntoCustomer(
  limits: CartLimits,
  em: EntityManager,
  customerId: string,
  anonymousCartId: string,
): Promise<string | null> {
  if (!CART_ID.test(anonymousCartId)) return null;
  return inTransaction(em, async (tx) => {
    const [source] = await sqlAll<CartRow>(
      tx,
      `select id, customer_id, coupon_code from cart where id = $1 and status = 'ACTIVE' and customer_id is null for update`,
      [anonymousCartId],
    );
    const target = await activeCartOf(tx, customerId);
    if (!source) return target;
    // like every other change of the target cart, under its row lock (else it deadlocks with cartLinesAdd)
    await sqlAll(tx, `select id from cart where id = $1 for update`, [target]);
    await sqlAll(
      tx,
      `insert into cart_line (cart_id, variant_id, quantity)
         select $1, variant_id, least(quantity, $3) from cart_line where cart_id = $2
         on conflict (cart_id, variant_id) do update set quantity = least(cart_line.quantity + excluded.quantity, $3)`,
      [target, source.id, limits.maxLineQuantity],
    );
    await sqlAll(
      tx,
      `update cart set coupon_code = coalesce(coupon_code, $2), updated_at = now() where id = $1`,
      [target, source.coupon_code],
    );
    await sqlAll(
      tx,
      `update cart set status = 'MERGED', merged_into = $2, updated_at = now() where id = $1`,
      [source.id, target],
    );
    return target;
  });
}

/** Deletes anonymous carts untouched for `days` days, and merged or converted carts as old. */
export async function purgeStale(em: EntityManager, days: number): Promise<number> {
  const rows = await sqlAll(
    em,
    `delete from cart where updated_at < now() - make_interval(days => $1)
          and (customer_id is null or status <> 'ACTIVE')
          and not exists (select 1 from checkout where checkout.cart_id = cart.id)
        returning id`,
    [days],
  );
  return rows.length;
}

/** The customer's active cart id, created when missing (one per customer, by a unique index). */
export async function activeCartOf(em: EntityManager, customerId: string): Promise<string> {
  await sqlAll(
    em,
    `insert into cart (id, customer_id) values ($1, $2) on conflict (customer_id) where status = 'ACTIVE' do nothing`,
    [newCartId(), customerId],
  );
  const [row] = await sqlAll<{ id: string }>(
    em,
    `select id from cart where customer_id = $1 and status = 'ACTIVE'`,
    [customerId],
  );
  return row.id;
}
