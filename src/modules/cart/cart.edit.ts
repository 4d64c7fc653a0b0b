import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import type { Principal } from '../../shared/auth';
import { ErrorCode, UserError } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { OutOfStockError } from '../inventory/inventory.errors';
import { isLive } from '../pricing/pricing.service';
import type { CartDeps, CartLimits } from './cart.deps';
import { CART_ID, viewCart, type CartOutcome, type CartRow } from './cart.view';

/*
 * Changing an existing cart: its lines (add, set a quantity, remove) and its coupon. Every change
 * locks the cart row first, so concurrent changes (and a merge at sign-in) apply one after
 * another, and answers the cart as priced after the change. A cart holds no stock: availability
 * is checked here when a quantity grows, and again, for real, at checkout.
 */

type Line = { variantId: string; quantity: number };

export function addLines(
  deps: CartDeps,
  em: EntityManager,
  principal: Principal | null,
  cartId: string,
  lines: Line[],
): Promise<CartOutcome> {
  return change(deps, em, principal, cartId, (tx, row) => add(deps.limits, tx, row, lines));
}

export function updateLines(
  deps: CartDeps,
  em: EntityManager,
  principal: Principal | null,
  cartId: string,
  updates: { lineId: string; quantity: number }[],
): Promise<CartOutcome> {
  return change(deps, em, principal, cartId, async (tx, row) => {
    for (const u of updates) {
      const [line] = isId(u.lineId)
        ? await sqlAll<{ variant_id: string }>(
            tx,
            'select variant_id from cart_line where id = $1 and cart_id = $2',
            [u.lineId, row.id],
          )
        : [];
      if (!line)
        throw new Rollback(
          UserError.of(ErrorCode.VARIANT_UNAVAILABLE, `Cart line ${u.lineId} is not in this cart`, 'lineId'),
        );
      if (u.quantity === 0) {
        await sqlAll(tx, 'delete from cart_line where id = $1', [u.lineId]);
        continue;
      }
      checkQuantity(deps.limits, u.quantity);
      await checkAvailable(tx, String(line.variant_id), u.quantity);
      await sqlAll(tx, 'update cart_line set quantity = $1 where id = $2', [u.quantity, u.lineId]);
    }
  });
}

export function removeLines(
  deps: CartDeps,
  em: EntityManager,
  principal: Principal | null,
  cartId: string,
  lineIds: string[],
): Promise<CartOutcome> {
  return change(deps, em, principal, cartId, async (tx, row) => {
    await sqlAll(tx, 'delete from cart_line where cart_id = $1 and id = any($2::bigint[])', [
      row.id,
      lineIds.filter(isId),
    ]);
  });
}

export function applyCoupon(
  deps: CartDeps,
  em: EntityManager,
  principal: Principal | null,
  cartId: string,
  code: string,
): Promise<CartOutcome> {
  const { pricing } = deps;
  return change(deps, em, principal, cartId, async (tx, row) => {
    const coupon = await pricing.coupon(tx, code.trim());
    const invalid = (message: string) =>
      new Rollback(UserError.of(ErrorCode.COUPON_INVALID, message, 'code'));
    if (!coupon) throw invalid(`No coupon ${code.trim().toUpperCase()}`);
    if (!isLive(coupon, new Date())) throw invalid(`Coupon ${coupon.code} is not valid now`);
    const view = await viewCart(pricing, tx, row);
    if (coupon.minSubtotal !== null && view.subtotal < coupon.minSubtotal) {
      throw invalid(
        `Coupon ${coupon.code} needs a subtotal of at least ${(coupon.minSubtotal / 100).toFixed(2)}`,
      );
    }
    const exhausted = await pricing.checkUsage(tx, coupon, row.customer_id ? String(row.customer_id) : null);
    if (exhausted) throw new Rollback(exhausted);
    await sqlAll(tx, 'update cart set coupon_code = $1 where id = $2', [coupon.code, row.id]);
    row.coupon_code = coupon.code;
  });
}

export function removeCoupon(
  deps: CartDeps,
  em: EntityManager,
  principal: Principal | null,
  cartId: string,
): Promise<CartOutcome> {
  return change(deps, em, principal, cartId, async (tx, row) => {
    await sqlAll(tx, 'update cart set coupon_code = null where id = $1', [row.id]);
    row.coupon_code = null;
  });
}

/** Runs `fn` on the locked cart, touches it, and answers it as priced after the change. */
function change(
  deps: CartDeps,
  em: EntityManager,
  principal: Principal | null,
  cartId: string,
  fn: (tx: EntityManager, row: CartRow) => Promise<void>,
): Promise<CartOutcome> {
  return inTransaction<CartOutcome, CartOutcome>(em, async (tx) => {
    const row = await lock(tx, principal, cartId);
    await fn(tx, row);
    [{ updated_at: row.updated_at }] = await sqlAll<{ updated_at: Date }>(
      tx,
      'update cart set updated_at = now() where id = $1 returning updated_at',
      [row.id],
    );
    return viewCart(deps.pricing, tx, row);
  });
}

/** Locks an active cart the caller may use; anything else reads as not found. */
async function lock(em: EntityManager, principal: Principal | null, cartId: string): Promise<CartRow> {
  const [row] = CART_ID.test(cartId)
    ? await sqlAll<CartRow>(
        em,
        `select id, customer_id, coupon_code, updated_at from cart where id = $1 and status = 'ACTIVE' for update`,
        [cartId],
      )
    : [];
  if (!row || (row.customer_id && String(row.customer_id) !== principal?.userId))
    throw notFound('Cart', cartId.slice(0, 40));
  return row;
}

function checkQuantity(limits: CartLimits, quantity: number): void {
  if (quantity > limits.maxLineQuantity) {
    throw new Rollback(
      UserError.of(
        ErrorCode.QUANTITY_LIMIT_EXCEEDED,
        `At most ${limits.maxLineQuantity} of one variant per order`,
        'quantity',
      ),
    );
  }
}

async function checkAvailable(em: EntityManager, variantId: string, quantity: number): Promise<void> {
  const [v] = await sqlAll<{ available: number }>(
    em,
    'select greatest(on_hand - reserved - sold, 0) as available from variant where id = $1',
    [variantId],
  );
  if (v.available < quantity) throw new Rollback(OutOfStockError.of(variantId, quantity, v.available));
}

/** Adds `lines` to the locked cart one by one: quantities of a variant already there add up. */
async function add(limits: CartLimits, em: EntityManager, row: CartRow, lines: Line[]): Promise<void> {
  for (const l of lines) {
    const [variant] = isId(l.variantId)
      ? await sqlAll<{ id: string }>(em, 'select id from variant where id = $1', [l.variantId])
      : [];
    if (!variant)
      throw new Rollback(
        UserError.of(
          ErrorCode.VARIANT_UNAVAILABLE,
          `Variant ${l.variantId.slice(0, 40)} does not exist`,
          'variantId',
        ),
      );
    const [existing] = await sqlAll<{ quantity: number }>(
      em,
      'select quantity from cart_line where cart_id = $1 and variant_id = $2',
      [row.id, l.variantId],
    );
    const quantity = (existing?.quantity ?? 0) + l.quantity;
    checkQuantity(limits, quantity);
    await checkAvailable(em, l.variantId, quantity);
    await sqlAll(
      em,
      `insert into cart_line (cart_id, variant_id, quantity) values ($1, $2, $3)
         on conflict (cart_id, variant_id) do update set quantity = excluded.quantity`,
      [row.id, l.variantId, quantity],
    );
  }
  const [{ n }] = await sqlAll<{ n: number }>(
    em,
    'select count(*)::int as n from cart_line where cart_id = $1',
    [row.id],
  );
  if (n > limits.maxLines)
    throw new Rollback(
      UserError.of(
        ErrorCode.QUANTITY_LIMIT_EXCEEDED,
        `A cart holds at most ${limits.maxLines} lines`,
        'lines',
      ),
    );
}
