import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { ADD_LINES_SQL, CUSTOMER_CART_SQL, NEW_CART_SQL } from './cart.add.sql';
import { inTransaction, Rollback } from '../../db/transaction';
import type { Principal } from '../../shared/auth';
import { Role } from '../identity/user.entity';
import { ErrorCode, UserError, type Result } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { OutOfStockError } from '../inventory/inventory.errors';
import { price, type PricingResult } from '../pricing/pricing';
import { isLive, type PricingService } from '../pricing/pricing.service';

export interface CartLimits {
  maxLineQuantity: number;
  maxLines: number;
}

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

interface CartRow {
  id: string;
  customer_id: string | null;
  coupon_code: string | null;
  updated_at: Date;
}

/** A cart line as priced: its variant's price, merchant and product collections. */
interface CartLineRow {
  id: string;
  variant_id: string;
  quantity: number;
  price: string;
  merchant_id: string;
  collections: string[];
}

/** What ADD_LINES_SQL / NEW_CART_SQL answer. */
interface AddedLines {
  ok: boolean;
  updated_at: Date;
  /** Per requested line (n: its position, from 1): what the checks found. */
  checks: { n: number; found: boolean; quantity: number; available: number }[] | null;
  /** The cart's lines after the change (null: none). */
  lines: CartLineRow[] | null;
}

const CART_ID = /^[A-Za-z0-9_-]{22}$/;
const newCartId = () => randomBytes(16).toString('base64url');

/**
 * Server-side carts. A cart holds no stock: availability is checked when lines are added and again,
 * for real, at checkout. Every change locks the cart row, so concurrent changes (and a merge at
 * sign-in) apply one after another.
 */
export class CartService {
  constructor(
    private readonly pricing: PricingService,
    private readonly limits: CartLimits,
  ) {}

  /** The cart by id (anonymous carts: whoever holds the id; customer carts: their owner), or the viewer's. */
  async find(em: EntityManager, principal: Principal | null, id?: string | null): Promise<CartView | null> {
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
    return row ? this.view(em, row) : null;
  }

  /**
   * Signed-in customers get (or start) their one active cart; anyone else a new anonymous cart.
   * An anonymous cart is one statement (NEW_CART_SQL); a customer's is the lock of their cart and
   * one statement adding the lines (ADD_LINES_SQL). Either writes nothing unless every line passes.
   */
  async create(
    em: EntityManager,
    principal: Principal | null,
    lines: { variantId: string; quantity: number }[],
  ): Promise<CartOutcome> {
    const params = (cartId: string) => [
      cartId,
      lines.map((l) => (isId(l.variantId) ? l.variantId : '0')),
      lines.map((l) => l.quantity),
      this.limits.maxLineQuantity,
      this.limits.maxLines,
    ];
    if (!principal?.roles.includes(Role.CUSTOMER)) {
      const id = newCartId();
      const [added] = await sqlAll<AddedLines>(em, NEW_CART_SQL, params(id));
      if (!added.ok) return this.addFailure(lines, added.checks);
      return this.priced(
        em,
        { id, customer_id: null, coupon_code: null, updated_at: added.updated_at },
        added.lines ?? [],
      );
    }
    return inTransaction<CartOutcome, CartOutcome>(em, async (tx) => {
      // Creates the customer's active cart or locks it, like every change of a cart.
      const [row] = await sqlAll<CartRow>(tx, CUSTOMER_CART_SQL, [newCartId(), principal.userId]);
      const [added] = await sqlAll<AddedLines>(tx, ADD_LINES_SQL, params(row.id));
      if (!added.ok) throw new Rollback(this.addFailure(lines, added.checks));
      return this.priced(tx, { ...row, updated_at: added.updated_at }, added.lines ?? []);
    });
  }

  /** The first line that failed the checks of ADD_LINES_SQL, as the error `add` would give. */
  private addFailure(
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
      if (c.quantity > this.limits.maxLineQuantity)
        return UserError.of(
          ErrorCode.QUANTITY_LIMIT_EXCEEDED,
          `At most ${this.limits.maxLineQuantity} of one variant per order`,
          'quantity',
        );
      if (c.available < c.quantity) return OutOfStockError.of(variantId, c.quantity, c.available);
    }
    return UserError.of(
      ErrorCode.QUANTITY_LIMIT_EXCEEDED,
      `A cart holds at most ${this.limits.maxLines} lines`,
      'lines',
    );
  }

  addLines(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    lines: { variantId: string; quantity: number }[],
  ): Promise<CartOutcome> {
    return this.change(em, principal, cartId, (tx, row) => this.add(tx, row, lines));
  }

  updateLines(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    updates: { lineId: string; quantity: number }[],
  ): Promise<CartOutcome> {
    return this.change(em, principal, cartId, async (tx, row) => {
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
            UserError.of(
              ErrorCode.VARIANT_UNAVAILABLE,
              `Cart line ${u.lineId} is not in this cart`,
              'lineId',
            ),
          );
        if (u.quantity === 0) {
          await sqlAll(tx, 'delete from cart_line where id = $1', [u.lineId]);
          continue;
        }
        this.checkQuantity(u.quantity);
        await this.checkAvailable(tx, String(line.variant_id), u.quantity);
        await sqlAll(tx, 'update cart_line set quantity = $1 where id = $2', [u.quantity, u.lineId]);
      }
    });
  }

  removeLines(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    lineIds: string[],
  ): Promise<CartOutcome> {
    return this.change(em, principal, cartId, async (tx, row) => {
      await sqlAll(tx, 'delete from cart_line where cart_id = $1 and id = any($2::bigint[])', [
        row.id,
        lineIds.filter(isId),
      ]);
    });
  }

  applyCoupon(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    code: string,
  ): Promise<CartOutcome> {
    return this.change(em, principal, cartId, async (tx, row) => {
      const coupon = await this.pricing.coupon(tx, code.trim());
      const invalid = (message: string) =>
        new Rollback(UserError.of(ErrorCode.COUPON_INVALID, message, 'code'));
      if (!coupon) throw invalid(`No coupon ${code.trim().toUpperCase()}`);
      if (!isLive(coupon, new Date())) throw invalid(`Coupon ${coupon.code} is not valid now`);
      const view = await this.view(tx, row);
      if (coupon.minSubtotal !== null && view.subtotal < coupon.minSubtotal) {
        throw invalid(
          `Coupon ${coupon.code} needs a subtotal of at least ${(coupon.minSubtotal / 100).toFixed(2)}`,
        );
      }
      const exhausted = await this.pricing.checkUsage(
        tx,
        coupon,
        row.customer_id ? String(row.customer_id) : null,
      );
      if (exhausted) throw new Rollback(exhausted);
      await sqlAll(tx, 'update cart set coupon_code = $1 where id = $2', [coupon.code, row.id]);
      row.coupon_code = coupon.code;
    });
  }

  removeCoupon(em: EntityManager, principal: Principal | null, cartId: string): Promise<CartOutcome> {
    return this.change(em, principal, cartId, async (tx, row) => {
      await sqlAll(tx, 'update cart set coupon_code = null where id = $1', [row.id]);
      row.coupon_code = null;
    });
  }

  /**
   * Merges an anonymous cart into the customer's cart, exactly once: the anonymous cart is locked
   * and marked MERGED in the same transaction, so a repeated or concurrent sign-in with the same
   * cart id finds nothing left to merge. Quantities of one variant add up, capped per line.
   */
  async mergeIntoCustomer(
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
      const target = await this.activeCartOf(tx, customerId);
      if (!source) return target;
      // like every other change of the target cart, under its row lock (else it deadlocks with cartLinesAdd)
      await sqlAll(tx, `select id from cart where id = $1 for update`, [target]);
      await sqlAll(
        tx,
        `insert into cart_line (cart_id, variant_id, quantity)
         select $1, variant_id, least(quantity, $3) from cart_line where cart_id = $2
         on conflict (cart_id, variant_id) do update set quantity = least(cart_line.quantity + excluded.quantity, $3)`,
        [target, source.id, this.limits.maxLineQuantity],
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
  async purgeStale(em: EntityManager, days: number): Promise<number> {
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
  async activeCartOf(em: EntityManager, customerId: string): Promise<string> {
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

  private change(
    em: EntityManager,
    principal: Principal | null,
    cartId: string,
    fn: (tx: EntityManager, row: CartRow) => Promise<void>,
  ): Promise<CartOutcome> {
    return inTransaction<CartOutcome, CartOutcome>(em, async (tx) => {
      const row = await this.lock(tx, principal, cartId);
      await fn(tx, row);
      [{ updated_at: row.updated_at }] = await sqlAll<{ updated_at: Date }>(
        tx,
        'update cart set updated_at = now() where id = $1 returning updated_at',
        [row.id],
      );
      return this.view(tx, row);
    });
  }

  /** Locks an active cart the caller may use; anything else reads as not found. */
  private async lock(em: EntityManager, principal: Principal | null, cartId: string): Promise<CartRow> {
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

  private checkQuantity(quantity: number): void {
    if (quantity > this.limits.maxLineQuantity) {
      throw new Rollback(
        UserError.of(
          ErrorCode.QUANTITY_LIMIT_EXCEEDED,
          `At most ${this.limits.maxLineQuantity} of one variant per order`,
          'quantity',
        ),
      );
    }
  }

  private async checkAvailable(em: EntityManager, variantId: string, quantity: number): Promise<void> {
    const [v] = await sqlAll<{ available: number }>(
      em,
      'select greatest(on_hand - reserved - sold, 0) as available from variant where id = $1',
      [variantId],
    );
    if (v.available < quantity) throw new Rollback(OutOfStockError.of(variantId, quantity, v.available));
  }

  private async add(
    em: EntityManager,
    row: CartRow,
    lines: { variantId: string; quantity: number }[],
  ): Promise<void> {
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
      this.checkQuantity(quantity);
      await this.checkAvailable(em, l.variantId, quantity);
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
    if (n > this.limits.maxLines)
      throw new Rollback(
        UserError.of(
          ErrorCode.QUANTITY_LIMIT_EXCEEDED,
          `A cart holds at most ${this.limits.maxLines} lines`,
          'lines',
        ),
      );
  }

  /** Prices the cart as of now. */
  async view(em: EntityManager, row: CartRow): Promise<CartView> {
    const lines = await sqlAll<CartLineRow>(
      em,
      `select cl.id, cl.variant_id, cl.quantity, v.price, v.merchant_id, p.collections
         from cart_line cl join variant v on v.id = cl.variant_id join product p on p.id = v.product_id
        where cl.cart_id = $1 order by cl.id`,
      [row.id],
    );
    return this.priced(em, row, lines);
  }

  /** The cart with `lines` (its lines now, with their variants' prices) priced as of now. */
  private async priced(em: EntityManager, row: CartRow, lines: CartLineRow[]): Promise<CartView> {
    const coupon = row.coupon_code ? await this.pricing.coupon(em, row.coupon_code) : null;
    const priced: PricingResult = price({
      lines: lines.map((l) => ({
        key: String(l.id),
        merchantId: String(l.merchant_id),
        unitPrice: Number(l.price),
        quantity: l.quantity,
        collections: l.collections,
      })),
      promotions: lines.length ? await this.pricing.activePromotions(em) : [],
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
}
