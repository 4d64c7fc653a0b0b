import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../../shared/auth';
import type { PricingService } from '../pricing/pricing.service';
import { createCart } from './cart.create';
import type { CartDeps, CartLimits } from './cart.deps';
import { addLines, applyCoupon, removeCoupon, removeLines, updateLines } from './cart.edit';
import { activeCartOf, mergeIntoCustomer, purgeStale } from './cart.merge';
import { findCart, viewCart, type CartOutcome, type CartRow, type CartView } from './cart.view';

export type { CartLimits } from './cart.deps';
export type { CartLineView, CartOutcome, CartView } from './cart.view';

/**
 * Server-side carts. A cart holds no stock: availability is checked when lines are added and again,
 * for real, at checkout. Every change locks the cart row, so concurrent changes (and a merge at
 * sign-in) apply one after another. Reads and pricing are in cart.view.ts, starting a cart in
 * cart.create.ts, changes in cart.edit.ts, the merge at sign-in and the purge in cart.merge.ts.
 */
export class CartService {
  private readonly deps: CartDeps;

  constructor(pricing: PricingService, limits: CartLimits) {
    this.deps = { pricing, limits };
  }

  /** The cart by id (anonymous carts: whoever holds the id; customer carts: their owner), or the viewer's. */
  find(em: EntityManager, principal: Principal | null, id?: string | null): Promise<CartView | null> {
    return findCart(this.deps.pricing, em, principal, id);
  }

  /** Signed-in customers get (or start) their one active cart; anyone else a new anonymous cart. */
  create(
    em: EntityManager,
    principal: Principal | null,
    lines: { variantId: string; quantity: number }[],
  ): Promise<CartOutcome> {
    return createCart(this.deps, em, principal, lines);
  }

  addLines(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    lines: { variantId: string; quantity: number }[],
  ): Promise<CartOutcome> {
    return addLines(this.deps, em, principal, cartId, lines);
  }

  updateLines(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    updates: { lineId: string; quantity: number }[],
  ): Promise<CartOutcome> {
    return updateLines(this.deps, em, principal, cartId, updates);
  }

  removeLines(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    lineIds: string[],
  ): Promise<CartOutcome> {
    return removeLines(this.deps, em, principal, cartId, lineIds);
  }

  applyCoupon(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    code: string,
  ): Promise<CartOutcome> {
    return applyCoupon(this.deps, em, principal, cartId, code);
  }

  removeCoupon(em: EntityManager, principal: Principal | null, cartId: string): Promise<CartOutcome> {
    return removeCoupon(this.deps, em, principal, cartId);
  }

  /** Merges an anonymous cart into the customer's cart, exactly once (cart.merge.ts). */
  mergeIntoCustomer(em: EntityManager, customerId: string, anonymousCartId: string): Promise<string | null> {
    return mergeIntoCustomer(this.deps.limits, em, customerId, anonymousCartId);
  }

  /** Deletes anonymous carts untouched for `days` days, and merged or converted carts as old. */
  purgeStale(em: EntityManager, days: number): Promise<number> {
    return purgeStale(em, days);
  }

  /** The customer's active cart id, created when missing (one per customer, by a unique index). */
  activeCartOf(em: EntityManager, customerId: string): Promise<string> {
    return activeCartOf(em, customerId);
  }

  /** Prices the cart as of now. */
  view(em: EntityManager, row: CartRow): Promise<CartView> {
    return viewCart(this.deps.pricing, em, row);
  }
}
