import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config';
import { Rollback } from '../../db/transaction';
import { ErrorCode, UserError } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import type { Jobs } from '../../shared/jobs';
import { markEventsWritten } from '../events/outbox-signal';
import { OutOfStockError } from '../inventory/inventory.errors';
import { availableOf, takeStock } from '../inventory/inventory.store';
import { spendPoints } from '../loyalty/loyalty';
import { writeCheckout } from '../order/order.store';
import { price } from '../pricing/pricing';
import type { PricingService } from '../pricing/pricing.service';
import { capProblem, holdsStock } from './checkout.caps';
import type { CartLine, CheckoutDraft, PricedDraft, Snapshot, WrittenDraft } from './checkout.draft';
import { snapshotOf } from './checkout.snapshot';

/**
 * The steps of placing a checkout, in the order they run inside its one transaction:
 *
 *   claim the key and read the cart (checkout.service.ts) → checkCart → priceCart → redeemPoints
 *   → writeOrders → redeemCoupon → scheduleJobs → takeStock
 *
 * That order is also the order in which rows are locked everywhere (caps lock, idempotency key,
 * cart, coupon, buyer's points, variants in id order), so concurrent transactions never deadlock;
 * stock comes last so a hot variant's row stays locked only from its UPDATE to the commit. A step
 * that finds a problem throws `Rollback(error)`: nothing written survives, no compensation.
 */

export const SNAPSHOT_JOB = 'snapshot.write';
export const EXPIRE_JOB = 'order.expire';

export interface CheckoutDeps {
  config: Config;
  pricing: PricingService;
  jobs: Jobs;
}

const fail = (e: UserError | OutOfStockError) => new Rollback(e);

/** The cart is the buyer's, still active, and has lines. */
export function checkCart(draft: CheckoutDraft): CheckoutDraft {
  const { cart, buyerId, request } = draft;
  if (cart.customerId && cart.customerId !== buyerId) throw notFound('Cart', request.cartId.slice(0, 40));
  if (cart.status !== 'ACTIVE')
    throw fail(UserError.of(ErrorCode.CART_EMPTY, 'This cart has already been checked out', 'cartId'));
  if (cart.lines.length === 0) throw fail(UserError.of(ErrorCode.CART_EMPTY, 'The cart is empty', 'cartId'));
  return draft;
}

/**
 * Prices the cart: the coupon (locked, so its uses are counted one checkout after the other),
 * the promotions, the points asked for; a coupon that does not apply or is used up, or more
 * points than the buyer has, refuse the checkout.
 */
export async function priceCart(
  tx: EntityManager,
  deps: CheckoutDeps,
  draft: CheckoutDraft,
): Promise<PricedDraft> {
  const { cart, request, buyerId } = draft;
  const { config, pricing } = deps;
  const now = new Date();
  const coupon = cart.couponCode ? await pricing.coupon(tx, cart.couponCode, true) : null;
  if (cart.couponCode && !coupon)
    throw fail(UserError.of(ErrorCode.COUPON_INVALID, `Coupon ${cart.couponCode} no longer exists`, 'code'));
  if (request.pointsToRedeem > cart.buyerPoints) {
    throw fail(
      UserError.of(ErrorCode.POINTS_INSUFFICIENT, `You have ${cart.buyerPoints} points`, 'pointsToRedeem'),
    );
  }
  const priced = price({
    lines: cart.lines.map((l) => ({
      key: l.variantId,
      merchantId: l.merchantId,
      unitPrice: l.unitPrice,
      quantity: l.quantity,
      collections: l.collections,
    })),
    promotions: await pricing.activePromotions(tx),
    coupon,
    points:
      request.pointsToRedeem > 0
        ? {
            points: request.pointsToRedeem,
            pointValue: config.points.valueMinor,
            maxShareBps: config.points.maxShareBps,
          }
        : null,
    shipping: config.shipping,
    now,
  });
  if (coupon) {
    if (!priced.coupon?.applied)
      throw fail(
        UserError.of(
          ErrorCode.COUPON_INVALID,
          `Coupon ${coupon.code} does not apply to this cart now`,
          'code',
        ),
      );
    const exhausted = await pricing.checkUsage(tx, coupon, buyerId);
    if (exhausted) throw fail(exhausted);
  }
  const paymentDeadline = new Date(now.getTime() + config.paymentWindowSeconds * 1000);
  return { ...draft, now, paymentDeadline, coupon, priced };
}

/** Takes the points the price used from the buyer, through the loyalty module (never below zero). */
export async function redeemPoints(tx: EntityManager, draft: PricedDraft): Promise<PricedDraft> {
  if (!(await spendPoints(tx, draft.buyerId, draft.priced.pointsUsed, draft.checkoutId)))
    throw fail(UserError.of(ErrorCode.POINTS_INSUFFICIENT, 'Not enough points', 'pointsToRedeem'));
  return draft;
}

/**
 * Writes the checkout, its orders (one per merchant), lines, reservations and first events, and
 * converts the cart: one statement of the order store, which also applies the per-customer caps
 * (checkout.caps.ts) and writes nothing when the checkout does not fit them.
 */
export async function writeOrders(
  tx: EntityManager,
  deps: CheckoutDeps,
  draft: PricedDraft,
): Promise<WrittenDraft> {
  const { priced, cart } = draft;
  const byVariant = new Map(cart.lines.map((l) => [l.variantId, l]));
  const snapshots = new Map<string, Snapshot>();
  const lines = priced.groups.flatMap((g) =>
    g.lines.map((pl) => {
      const l = byVariant.get(pl.key)!;
      const snapshot = snapshotOfLine(l, deps.config.currency);
      snapshots.set(snapshot.digest, snapshot);
      return {
        merchantId: l.merchantId,
        variantId: l.variantId,
        productId: l.productId,
        sku: l.sku,
        title: `${l.productTitle} (${l.variantTitle})`,
        attributes: l.attributes,
        stockPolicy: l.stockPolicy,
        quantity: l.quantity,
        unitPrice: l.unitPrice,
        subtotal: pl.subtotal,
        discount: pl.discount,
        pointsDiscount: pl.pointsDiscount,
        total: pl.total,
        snapshotDigest: snapshot.digest,
      };
    }),
  );
  const caps = {
    maxUnpaid: deps.config.security.checkoutMaxUnpaid,
    maxHeldUnits: deps.config.security.checkoutMaxHeldUnits,
  };
  const newUnits = cart.lines.reduce((n, l) => n + (holdsStock(l.stockPolicy) ? l.quantity : 0), 0);
  markEventsWritten(); // the orders' first events
  const written = await writeCheckout(
    tx,
    {
      checkoutId: draft.checkoutId,
      buyerId: draft.buyerId,
      cartId: cart.id,
      subtotal: priced.subtotal,
      discount: priced.discount,
      pointsDiscount: priced.pointsDiscount,
      pointsUsed: priced.pointsUsed,
      shippingFee: priced.shippingFee,
      total: priced.total,
      couponCode: draft.coupon?.code ?? null,
      shippingAddress: draft.address,
      paymentDeadline: draft.paymentDeadline,
      orders: priced.groups, // a NewOrder per merchant group (the write reads its amounts, not its lines)
      lines,
    },
    { ...caps, newUnits },
  );
  if (!written.written) throw fail(capProblem(written.held, newUnits, caps)!);
  return { ...draft, orders: written.orders, snapshots: [...snapshots.values()] };
}

/** Takes one use of the coupon; it refers to the checkout row, so it comes after the write. */
export async function redeemCoupon(
  tx: EntityManager,
  deps: CheckoutDeps,
  draft: WrittenDraft,
): Promise<WrittenDraft> {
  const { coupon } = draft;
  if (coupon && !(await deps.pricing.redeem(tx, coupon.code, draft.checkoutId, draft.buyerId)))
    throw fail(UserError.of(ErrorCode.COUPON_EXHAUSTED, `Coupon ${coupon.code} has been used up`, 'code'));
  return draft;
}

/** The snapshot job and the expiry at the deadline, written in this transaction: they exist exactly when the checkout does. */
export async function scheduleJobs(
  tx: EntityManager,
  deps: CheckoutDeps,
  draft: WrittenDraft,
): Promise<WrittenDraft> {
  await deps.jobs.sendMany(
    [
      { name: SNAPSHOT_JOB, data: { snapshots: draft.snapshots } },
      { name: EXPIRE_JOB, data: { checkoutId: draft.checkoutId }, startAfter: draft.paymentDeadline },
    ],
    { em: tx },
  );
  return draft;
}

/**
 * Takes the stock, one conditional UPDATE per line in variant id order (the cart's lines are
 * read so), so concurrent checkouts never deadlock; the first line short of stock refuses the
 * checkout with OutOfStockError.
 */
export async function takeCartStock(tx: EntityManager, draft: WrittenDraft): Promise<WrittenDraft> {
  for (const l of draft.cart.lines) {
    if (!(await takeStock(tx, { variantId: l.variantId, quantity: l.quantity, policy: l.stockPolicy }))) {
      throw fail(OutOfStockError.of(l.variantId, l.quantity, await availableOf(tx, l.variantId)));
    }
  }
  return draft;
}

/** The snapshot of a cart line (the product and variant as they are in the cart read). */
export function snapshotOfLine(l: CartLine, currency: string): Snapshot {
  return snapshotOf(
    {
      product_id: l.productId,
      variant_id: l.variantId,
      merchant_id: l.merchantId,
      category_id: l.categoryId,
      product_title: l.productTitle,
      variant_title: l.variantTitle,
      sku: l.sku,
      description: l.description,
      images: l.images,
      collections: l.collections,
      attributes: l.attributes,
      price: String(l.unitPrice),
    },
    currency,
  );
}
