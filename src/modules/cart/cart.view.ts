import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { Principal } from '../../shared/auth';
import type { Result, UserError } from '../../shared/error-result';
import type { OutOfStockError } from '../inventory/inventory.errors';
import { price, type PricingResult } from '../pricing/pricing';
import type { PricingService } from '../pricing/pricing.service';

/*
 * Reading a cart: the cart row as the other cart files pass it around, who may see it, and the
 * cart priced as of now (nothing about a price is stored in a cart).
 */

export interface CartLineView {
  id: string;
  variantId: string;
  quantity: number;
  unitPrice: number;
  lineTotal: number;
}

/** A cart as priced now: prices, promotions and coupon are re-evaluated on every read. */
export interface CartView {
  id: string;
  customerId: string | null;
  lines: CartLineView[];
  itemCount: number;
  subtotal: number;
  discount: number;
  total: number;
  coupon: { code: string; description: string } | null;
  updatedAt: Date;
}

export type CartOutcome = Result<CartView, UserError | OutOfStockError>;

export interface CartRow {
  id: string;
  customer_id: string | null;
  coupon_code: string | null;
  updated_at: Date;
}

/** A cart line as priced: its variant's price, merchant and product collections. */
export interface CartLineRow {
  id: string;
  variant_id: string;
  quantity: number;
  price: string;
  merchant_id: string;
  collections: string[];
}

/** The shape of a cart id (newCartId): anything else names no cart, without a query. */
export const CART_ID = /^[A-Za-z0-9_-]{22}$/;
export const newCartId = () => randomBytes(16).toString('base64url');

/** The cart by id (anonymous carts: whoever holds the id; customer carts: their owner), or the viewer's. */
export async function findCart(
  pricing: PricingService,
  em: EntityManager,
  principal: Principal | null,
  id?: string | null,
): Promise<CartView | null> {
  let row: CartRow | undefined;
  if (id) {
    if (!CART_ID.test(id)) return null;
    [row] = await sqlAll<CartRow>(
      em,
      `select id, customer_id, coupon_code, updated_at from cart where id = $1 and status = 'ACTIVE'`,
      [id],
    );
    if (row?.customer_id && String(row.customer_id) !== principal?.userId) return null;
  } else if (principal) {
    [row] = await sqlAll<CartRow>(
      em,
      `select id, customer_id, coupon_code, updated_at from cart where customer_id = $1 and status = 'ACTIVE'`,
      [principal.userId],
    );
  }
  return row ? viewCart(pricing, em, row) : null;
}

/** Prices the cart as of now. */
export async function viewCart(pricing: PricingService, em: EntityManager, row: CartRow): Promise<CartView> {
  const lines = await sqlAll<CartLineRow>(
    em,
    `select cl.id, cl.variant_id, cl.quantity, v.price, v.merchant_id, p.collections
         from cart_line cl join variant v on v.id = cl.variant_id join product p on p.id = v.product_id
        where cl.cart_id = $1 order by cl.id`,
    [row.id],
  );
  return pricedCart(pricing, em, row, lines);
}

/** The cart with `lines` (its lines now, with their variants' prices) priced as of now. */
export async function pricedCart(
  pricing: PricingService,
  em: EntityManager,
  row: CartRow,
  lines: CartLineRow[],
): Promise<CartView> {
  const coupon = row.coupon_code ? await pricing.coupon(em, row.coupon_code) : null;
  const priced: PricingResult = price({
    lines: lines.map((l) => ({
      key: String(l.id),
      merchantId: String(l.merchant_id),
      unitPrice: Number(l.price),
      quantity: l.quantity,
      collections: l.collections,
    })),
    promotions: lines.length ? await pricing.activePromotions(em) : [],
    coupon,
    now: new Date(),
  });
  const totals = new Map(priced.lines.map((l) => [l.key, l.total]));
  return {
    id: row.id,
    customerId: row.customer_id ? String(row.customer_id) : null,
    lines: lines.map((l) => ({
      id: String(l.id),
      variantId: String(l.variant_id),
      quantity: l.quantity,
      unitPrice: Number(l.price),
      lineTotal: totals.get(String(l.id)) ?? 0,
    })),
    itemCount: lines.reduce((s, l) => s + l.quantity, 0),
    subtotal: priced.subtotal,
    discount: priced.discount,
    total: priced.total,
    coupon: coupon ? { code: coupon.code, description: coupon.description } : null,
    updatedAt: row.updated_at ?? new Date(),
  };
}
