import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll, sqlPrepared } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import type { Principal } from '../../shared/auth';
import { ErrorCode, UserError } from '../../shared/error-result';
import { isId } from '../../shared/ids';
import { OutOfStockError } from '../inventory/inventory.errors';
import { Role } from '../identity/user.entity';
import { ADD_LINES_SQL, CUSTOMER_CART_SQL, NEW_CART_SQL } from './cart.add.sql';
import type { CartDeps, CartLimits } from './cart.deps';
import { newCartId, pricedCart, type CartLineRow, type CartOutcome, type CartRow } from './cart.view';

/*
 * Starting a cart (cartCreate) with its first lines, each way in one statement that checks every
 * line and writes nothing unless all pass (cart.add.sql.ts).
 */

/** What ADD_LINES_SQL / NEW_CART_SQL answer. */
interface AddedLines {
  ok: boolean;
  updated_at: Date;
  /** Per requested line (n: its position, from 1): what the checks found. */
  checks: { n: number; found: boolean; quantity: number; available: number }[] | null;
  /** The cart's lines after the change (null: none). */
  lines: CartLineRow[] | null;
}

/**
 * Signed-in customers get (or start) their one active cart; anyone else a new anonymous cart.
 * An anonymous cart is one statement (NEW_CART_SQL); a customer's is the lock of their cart and
 * one statement adding the lines (ADD_LINES_SQL). Either writes nothing unless every line passes.
 */
export async function createCart(
  deps: CartDeps,
  em: EntityManager,
  principal: Principal | null,
  lines: { variantId: string; quantity: number }[],
): Promise<CartOutcome> {
  const { limits, pricing } = deps;
  const params = (cartId: string) => [
    cartId,
    lines.map((l) => (isId(l.variantId) ? l.variantId : '0')),
    lines.map((l) => l.quantity),
    limits.maxLineQuantity,
    limits.maxLines,
  ];
  if (!principal?.roles.includes(Role.CUSTOMER)) {
    const id = newCartId();
    const [added] = await sqlAll<AddedLines>(em, NEW_CART_SQL, params(id));
    if (!added.ok) return addFailure(limits, lines, added.checks);
    return pricedCart(
      pricing,
      em,
      { id, customer_id: null, coupon_code: null, updated_at: added.updated_at },
      added.lines ?? [],
    );
  }
  return inTransaction<CartOutcome, CartOutcome>(em, async (tx) => {
    // Creates the customer's active cart or locks it, like every change of a cart.
    const [row] = await sqlAll<CartRow>(tx, CUSTOMER_CART_SQL, [newCartId(), principal.userId]);
    const [added] = await sqlPrepared<AddedLines>(tx, ADD_LINES_SQL, params(row.id));
    if (!added.ok) throw new Rollback(addFailure(limits, lines, added.checks));
    return pricedCart(pricing, tx, { ...row, updated_at: added.updated_at }, added.lines ?? []);
  });
}

/** The first line that failed the checks of ADD_LINES_SQL, as the error `add` would give. */
function addFailure(
  limits: CartLimits,
  lines: { variantId: string; quantity: number }[],
  checks: AddedLines['checks'],
): UserError | OutOfStockError {
  for (const c of checks ?? []) {
    const variantId = lines[c.n - 1].variantId;
    if (!c.found)
      return UserError.of(
        ErrorCode.VARIANT_UNAVAILABLE,
        `Variant ${variantId.slice(0, 40)} does not exist`,
        'variantId',
      );
    if (c.quantity > limits.maxLineQuantity)
      return UserError.of(
        ErrorCode.QUANTITY_LIMIT_EXCEEDED,
        `At most ${limits.maxLineQuantity} of one variant per order`,
        'quantity',
      );
    if (c.available < c.quantity) return OutOfStockError.of(variantId, c.quantity, c.available);
  }
  return UserError.of(
    ErrorCode.QUANTITY_LIMIT_EXCEEDED,
    `A cart holds at most ${limits.maxLines} lines`,
    'lines',
  );
}
