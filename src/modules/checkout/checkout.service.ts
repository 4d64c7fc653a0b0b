import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, UserError } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { claimKey, completeKey, digest } from '../../shared/idempotency';
import type { Jobs } from '../../shared/jobs';
import { StockPolicy } from '../catalog/product.entity';
import { OutOfStockError } from '../inventory/inventory.errors';
import { availableOf, recordReservations, takeStock } from '../inventory/stock';
import type { OrderService } from '../order/order.service';
import { price } from '../pricing/pricing';
import type { PricingService } from '../pricing/pricing.service';

export interface AddressData {
  name: string;
  line1: string;
  line2?: string | null;
  city: string;
  region?: string | null;
  postalCode: string;
  country: string;
  phone?: string | null;
}

export interface CheckoutRequest {
  cartId: string;
  idempotencyKey: string;
  shippingAddress: AddressData;
  pointsToRedeem: number;
}

export type CheckoutOutcome = { checkoutId: string } | UserError | OutOfStockError;

interface CartLineRow {
  variant_id: string;
  quantity: number;
  price: string;
  sku: string;
  variant_title: string;
  attributes: { name: string; value: string }[];
  merchant_id: string;
  product_id: string;
  product_title: string;
  description: string;
  images: string[];
  collections: string[];
  category_id: string | null;
  stock_policy: StockPolicy;
}

export const SNAPSHOT_JOB = 'snapshot.write';
export const EXPIRE_JOB = 'order.expire';

/**
 * Checkout: one transaction that turns a cart into one order per merchant, all or nothing.
 *
 * Order of work (and of row locks, the same everywhere to avoid deadlocks): idempotency key,
 * cart, coupon, buyer's points, variants in id order. Stock is taken by conditional UPDATEs; the
 * first line short of stock rolls everything back and returns OutOfStockError.
 */
export class CheckoutService {
  constructor(
    private readonly config: Config,
    private readonly pricing: PricingService,
    private readonly orders: OrderService,
    private readonly jobs: Jobs,
  ) {}

  async create(em: EntityManager, buyerId: string, req: CheckoutRequest): Promise<CheckoutOutcome> {
    const address = normalizeAddress(req.shippingAddress);
    const requestHash = digest({ cartId: req.cartId, address, points: req.pointsToRedeem });
    return inTransaction<CheckoutOutcome, CheckoutOutcome>(em, async (tx) => {
      const claim = await claimKey(tx, buyerId, 'checkout', req.idempotencyKey, requestHash);
      if (!claim.claimed) {
        if (!claim.sameRequest) {
          throw new Rollback(UserError.of(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This idempotency key was used for a different checkout', 'idempotencyKey'));
        }
        return { checkoutId: claim.resultRef };
      }
      const checkoutId = await this.place(tx, buyerId, req, address);
      await completeKey(tx, buyerId, 'checkout', req.idempotencyKey, checkoutId);
      return { checkoutId };
    });
  }

  private async place(tx: EntityManager, buyerId: string, req: CheckoutRequest, address: AddressData): Promise<string> {
    const fail = (e: UserError | OutOfStockError) => new Rollback(e);
    const [cart] = /^[A-Za-z0-9_-]{22}$/.test(req.cartId)
      ? await sqlAll<{ id: string; customer_id: string | null; status: string; coupon_code: string | null }>(
          tx,
          'select id, customer_id, status, coupon_code from cart where id = $1 for update',
          [req.cartId],
        )
      : [];
    if (!cart || (cart.customer_id && String(cart.customer_id) !== buyerId)) throw notFound('Cart', req.cartId.slice(0, 40));
    if (cart.status !== 'ACTIVE') throw fail(UserError.of(ErrorCode.CART_EMPTY, 'This cart has already been checked out', 'cartId'));

    const lines = await sqlAll<CartLineRow>(
      tx,
      `select cl.variant_id, cl.quantity, v.price, v.sku, v.title as variant_title, v.attributes, v.merchant_id,
              p.id as product_id, p.title as product_title, p.description, p.images, p.collections, p.category_id, p.stock_policy
         from cart_line cl join variant v on v.id = cl.variant_id join product p on p.id = v.product_id
        where cl.cart_id = $1 order by v.id`,
      [cart.id],
    );
    if (lines.length === 0) throw fail(UserError.of(ErrorCode.CART_EMPTY, 'The cart is empty', 'cartId'));

    const now = new Date();
    const coupon = cart.coupon_code ? await this.pricing.coupon(tx, cart.coupon_code, true) : null;
    if (cart.coupon_code && !coupon) throw fail(UserError.of(ErrorCode.COUPON_INVALID, `Coupon ${cart.coupon_code} no longer exists`, 'code'));
    const [buyer] = await sqlAll<{ points: number }>(tx, 'select points from app_user where id = $1', [buyerId]);
    if (req.pointsToRedeem > buyer.points) {
      throw fail(UserError.of(ErrorCode.POINTS_INSUFFICIENT, `You have ${buyer.points} points`, 'pointsToRedeem'));
    }
    const priced = price({
      lines: lines.map((l) => ({ key: String(l.variant_id), merchantId: String(l.merchant_id), unitPrice: Number(l.price), quantity: l.quantity, collections: l.collections })),
      promotions: await this.pricing.activePromotions(tx, now),
      coupon,
      points: req.pointsToRedeem > 0 ? { points: req.pointsToRedeem, pointValue: this.config.points.valueMinor, maxShareBps: this.config.points.maxShareBps } : null,
      shipping: this.config.shipping,
      now,
    });

    const ids = (await sqlAll<{ id: string }>(tx, 'select next_order_id($1) as id from generate_series(0, $2)', [buyerId, priced.groups.length])).map((r) => String(r.id));
    const checkoutId = ids[0];
    const orderIdOf = new Map(priced.groups.map((g, i) => [g.merchantId, ids[i + 1]]));

    if (coupon) {
      if (!priced.coupon?.applied) throw fail(UserError.of(ErrorCode.COUPON_INVALID, `Coupon ${coupon.code} does not apply to this cart now`, 'code'));
      const exhausted = await this.pricing.checkUsage(tx, coupon, buyerId);
      if (exhausted) throw fail(exhausted);
    }
    if (priced.pointsUsed > 0) {
      const taken = await sqlAll(tx, 'update app_user set points = points - $1 where id = $2 and points >= $1 returning id', [priced.pointsUsed, buyerId]);
      if (taken.length === 0) throw fail(UserError.of(ErrorCode.POINTS_INSUFFICIENT, 'Not enough points', 'pointsToRedeem'));
    }

    // Stock, in variant id order (the lines are sorted so): all lines or none.
    for (const l of lines) {
      if (!(await takeStock(tx, { variantId: String(l.variant_id), quantity: l.quantity, policy: l.stock_policy }))) {
        throw fail(OutOfStockError.of(String(l.variant_id), l.quantity, await availableOf(tx, String(l.variant_id))));
      }
    }

    const deadline = new Date(now.getTime() + this.config.paymentWindowSeconds * 1000);
    await sqlAll(
      tx,
      `insert into checkout (id, buyer_id, cart_id, subtotal, discount, points_discount, points_used, shipping_fee, total, coupon_code, shipping_address, payment_deadline)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [checkoutId, buyerId, cart.id, priced.subtotal, priced.discount, priced.pointsDiscount, priced.pointsUsed, priced.shippingFee, priced.total, coupon?.code ?? null, JSON.stringify(address), deadline],
    );
    if (coupon && !(await this.pricing.redeem(tx, coupon.code, checkoutId, buyerId))) {
      throw fail(UserError.of(ErrorCode.COUPON_EXHAUSTED, `Coupon ${coupon.code} has been used up`, 'code'));
    }

    const groups = priced.groups;
    await sqlAll(
      tx,
      `insert into shop_order (id, checkout_id, buyer_id, merchant_id, status, subtotal, discount, points_discount, points_used, shipping_fee, total, shipping_address, payment_deadline)
       select id, $1, $2, m, 'PENDING_PAYMENT', s, d, pd, pu, sf, t, $3, $4
         from unnest($5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::int[], $11::bigint[], $12::bigint[])
           as u(id, m, s, d, pd, pu, sf, t)`,
      [
        checkoutId,
        buyerId,
        JSON.stringify(address),
        deadline,
        groups.map((g) => orderIdOf.get(g.merchantId)),
        groups.map((g) => g.merchantId),
        groups.map((g) => g.subtotal),
        groups.map((g) => g.discount),
        groups.map((g) => g.pointsDiscount),
        groups.map((g) => g.pointsUsed),
        groups.map((g) => g.shippingFee),
        groups.map((g) => g.total),
      ],
    );

    // Order lines, each pointing at the snapshot of exactly what was sold.
    const byVariant = new Map(lines.map((l) => [String(l.variant_id), l]));
    const snapshots = new Map<string, { digest: string; title: string; data: object }>();
    const rows = groups.flatMap((g) =>
      g.lines.map((pl) => {
        const l = byVariant.get(pl.key)!;
        const data = {
          productId: String(l.product_id),
          variantId: String(l.variant_id),
          merchantId: String(l.merchant_id),
          categoryId: l.category_id ? String(l.category_id) : null,
          title: l.product_title,
          variantTitle: l.variant_title,
          sku: l.sku,
          description: l.description,
          images: l.images,
          collections: l.collections,
          attributes: l.attributes,
          unitPrice: Number(l.price),
          currency: this.config.currency,
        };
        const d = digest(data);
        snapshots.set(d, { digest: d, title: l.product_title, data });
        return { orderId: orderIdOf.get(g.merchantId)!, l, pl, digest: d };
      }),
    );
    await sqlAll(
      tx,
      `insert into order_line (order_id, buyer_id, variant_id, product_id, sku, title, attributes, stock_policy, quantity, unit_price, subtotal, discount, points_discount, total, snapshot_digest)
       select o, $1, v, p, s, t, a, sp, q, up, st, d, pd, tt, dg
         from unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::int[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[])
           as u(o, v, p, s, t, a, sp, q, up, st, d, pd, tt, dg)`,
      [
        buyerId,
        rows.map((r) => r.orderId),
        rows.map((r) => r.l.variant_id),
        rows.map((r) => r.l.product_id),
        rows.map((r) => r.l.sku),
        rows.map((r) => `${r.l.product_title} (${r.l.variant_title})`),
        rows.map((r) => JSON.stringify(r.l.attributes)),
        rows.map((r) => r.l.stock_policy),
        rows.map((r) => r.l.quantity),
        rows.map((r) => Number(r.l.price)),
        rows.map((r) => r.pl.subtotal),
        rows.map((r) => r.pl.discount),
        rows.map((r) => r.pl.pointsDiscount),
        rows.map((r) => r.pl.total),
        rows.map((r) => r.digest),
      ],
    );

    for (const [orderId, reserved] of groupBy(rows.filter((r) => r.l.stock_policy === StockPolicy.RESERVE_ON_ORDER), (r) => r.orderId)) {
      await recordReservations(tx, orderId, reserved.map((r) => ({ variantId: String(r.l.variant_id), quantity: r.l.quantity })), deadline);
    }
    await this.orders.recordCreated(tx, groups.map((g) => ({ orderId: orderIdOf.get(g.merchantId)!, buyerId, merchantId: g.merchantId })));
    await sqlAll(tx, `update cart set status = 'CONVERTED', updated_at = now() where id = $1`, [cart.id]);

    // Written in this transaction: they exist exactly when the checkout does.
    await this.jobs.send(SNAPSHOT_JOB, { snapshots: [...snapshots.values()] }, { em: tx });
    await this.jobs.send(EXPIRE_JOB, { checkoutId }, { em: tx, startAfter: deadline });
    return checkoutId;
  }

  /** Stores snapshots once per distinct content (the snapshot job). */
  async writeSnapshots(em: EntityManager, all: { digest: string; title: string; data: object }[]): Promise<void> {
    const snapshots = [...new Map(all.map((s) => [s.digest, s])).values()];
    if (snapshots.length === 0) return;
    await sqlAll(
      em,
      `insert into product_snapshot (digest, title, data)
       select d, t, j from unnest($1::text[], $2::text[], $3::jsonb[]) as u(d, t, j) on conflict (digest) do nothing`,
      [snapshots.map((s) => s.digest), snapshots.map((s) => s.title), snapshots.map((s) => JSON.stringify(s.data))],
    );
  }
}

function normalizeAddress(a: AddressData): AddressData {
  const t = (s?: string | null) => (s ? s.trim() || null : null);
  return {
    name: a.name.trim(),
    line1: a.line1.trim(),
    line2: t(a.line2),
    city: a.city.trim(),
    region: t(a.region),
    postalCode: a.postalCode.trim(),
    country: a.country.trim().toUpperCase(),
    phone: t(a.phone),
  };
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

