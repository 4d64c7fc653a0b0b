import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, type Result, UserError } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { digest, readClaim, withIdempotency, type Claim } from '../../shared/idempotency';
import type { Jobs } from '../../shared/jobs';
import { StockPolicy } from '../catalog/product.entity';
import { OutOfStockError } from '../inventory/inventory.errors';
import { availableOf, reserveFromHold, takeStock } from '../inventory/inventory.store';
import { spendPoints } from '../loyalty/loyalty';
import type { OrderRow, OrderService } from '../order/order.service';
import { price } from '../pricing/pricing';
import { writeCheckout, writeFlashSaleOrders } from '../order/order.store';
import { CLAIM_AND_READ_CART_SQL, FLASH_SALE_VARIANT_SQL } from './checkout.sql';
import { checkoutCapProblem, holdsStock } from './checkout.caps';
import { markEventsWritten } from '../events/outbox-signal';
import type { PricingService } from '../pricing/pricing.service';
import type { SwitchService } from '../switches/switches.service';

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

/** A checkout carries its total and deadline; a new one also its orders (a repeated request reads them when asked). */
export type CheckoutOutcome = Result<
  { checkoutId: string; total: number; paymentDeadline: Date; orders?: OrderRow[] },
  UserError | OutOfStockError
>;

const CART_ID = /^[A-Za-z0-9_-]{22}$/;

/** A checkout as stored, read with its idempotency key when a request is repeated. */
interface StoredCheckout {
  total: string;
  payment_deadline: Date;
}
const STORED_CHECKOUT_SQL = 'select total, payment_deadline from checkout where id = k.result_ref::bigint';

/** A row of CLAIM_AND_READ_CART_SQL: the cart, one of its lines (null columns: no lines), the buyer's points. */
type CartRead = CartLineRow & {
  claimed_ref: string | null;
  cart_id: string;
  customer_id: string | null;
  status: string;
  coupon_code: string | null;
  buyer_points: number;
};

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

/** A batch of flash-sale entries to turn into orders: one checkout of one line each. */
export interface FlashSaleOrderBatch {
  flashSaleId: string;
  variantId: string;
  /** The sale price, minor units. */
  unitPrice: number;
  /** The flash sale's own (shorter) payment window. */
  paymentWindowSeconds: number;
  buyers: { buyerId: string; quantity: number }[];
}

/** Where a flash-sale buyer's goods go until they give an address (flashSaleEnter asks for none). */
export const FLASH_SALE_ADDRESS_PLACEHOLDER: AddressData = {
  name: 'Flash sale buyer',
  line1: 'Address to be confirmed',
  city: '-',
  postalCode: '-',
  country: 'ZZ',
};

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
    private readonly switches: SwitchService,
  ) {}

  async create(em: EntityManager, buyerId: string, req: CheckoutRequest): Promise<CheckoutOutcome> {
    // Turned off by an operator: nothing is read or written, the buyer's cart stays as it was.
    if (!this.switches.isOn('checkout')) {
      return UserError.of(
        ErrorCode.SERVICE_DEGRADED,
        'Checkout is paused for a moment; please try again shortly',
      );
    }
    const address = normalizeAddress(req.shippingAddress);
    const requestHash = digest({ cartId: req.cartId, address, points: req.pointsToRedeem });
    const idempotent = {
      callerId: buyerId,
      scope: 'checkout',
      key: req.idempotencyKey,
      requestHash,
      subject: 'a different checkout',
      storedSql: STORED_CHECKOUT_SQL,
    };
    return inTransaction<CheckoutOutcome, CheckoutOutcome>(em, async (tx) => {
      const missing = () => {
        throw notFound('Cart', req.cartId.slice(0, 40));
      };
      let usedBefore: Claim<StoredCheckout> | undefined;
      if (CART_ID.test(req.cartId)) {
        // The key is claimed (drawing the checkout id, so the key row needs no second write) and the
        // cart locked and read in one statement.
        const rows = await sqlAll<CartRead>(tx, CLAIM_AND_READ_CART_SQL, [
          req.cartId,
          buyerId,
          req.idempotencyKey,
          requestHash,
        ]);
        // No cart: whatever the key says, not found (a key reused for another checkout is refused first).
        if (rows.length === 0) return withIdempotency(tx, idempotent, { run: missing, replay: missing });
        if (rows[0].claimed_ref) return this.place(tx, rows[0].claimed_ref, buyerId, req, address, rows);
        // The statement's insert found the key used before (committed: a concurrent claim that
        // rolled back would have let it in), so only the key's outcome is left to read.
        usedBefore = await readClaim<StoredCheckout>(
          tx,
          buyerId,
          'checkout',
          req.idempotencyKey,
          requestHash,
          STORED_CHECKOUT_SQL,
        );
      }
      // The key was used before (or the cart id is malformed): the key's outcome decides. A repeat
      // answers the checkout as stored, read with the key in one statement: no second read.
      return withIdempotency<CheckoutOutcome, StoredCheckout>(
        tx,
        idempotent,
        {
          run: (checkoutId) => this.place(tx, checkoutId, buyerId, req, address, []),
          replay: (checkoutId, stored) => ({
            checkoutId,
            total: Number(stored!.total),
            paymentDeadline: stored!.payment_deadline,
          }),
        },
        usedBefore,
      );
    });
  }

  /**
   * The checkout itself, in as few round trips as the rules allow: `rows` is the one read of cart,
   * lines and points (with the key's claim); one statement writes checkout, orders, lines,
   * reservations, events and the cart's new status, and returns the orders for the reply; one for
   * the jobs; one conditional UPDATE per line.
   */
  private async place(
    tx: EntityManager,
    checkoutId: string,
    buyerId: string,
    req: CheckoutRequest,
    address: AddressData,
    rows: CartRead[],
  ): Promise<CheckoutOutcome> {
    const fail = (e: UserError | OutOfStockError) => new Rollback(e);
    const cart = rows[0];
    if (!cart || (cart.customer_id && String(cart.customer_id) !== buyerId))
      throw notFound('Cart', req.cartId.slice(0, 40));
    if (cart.status !== 'ACTIVE')
      throw fail(UserError.of(ErrorCode.CART_EMPTY, 'This cart has already been checked out', 'cartId'));
    const lines = rows.filter((r) => r.variant_id !== null);
    if (lines.length === 0) throw fail(UserError.of(ErrorCode.CART_EMPTY, 'The cart is empty', 'cartId'));
    // security (issue 12): caps on unpaid checkouts and the units they hold, per customer.
    const capped = await checkoutCapProblem(
      tx,
      buyerId,
      lines.reduce((n, l) => n + (holdsStock(l.stock_policy) ? l.quantity : 0), 0),
      {
        maxUnpaid: this.config.security.checkoutMaxUnpaid,
        maxHeldUnits: this.config.security.checkoutMaxHeldUnits,
      },
    );
    if (capped) throw fail(capped);

    const now = new Date();
    const coupon = cart.coupon_code ? await this.pricing.coupon(tx, cart.coupon_code, true) : null;
    if (cart.coupon_code && !coupon)
      throw fail(
        UserError.of(ErrorCode.COUPON_INVALID, `Coupon ${cart.coupon_code} no longer exists`, 'code'),
      );
    if (req.pointsToRedeem > cart.buyer_points) {
      throw fail(
        UserError.of(ErrorCode.POINTS_INSUFFICIENT, `You have ${cart.buyer_points} points`, 'pointsToRedeem'),
      );
    }
    const priced = price({
      lines: lines.map((l) => ({
        key: String(l.variant_id),
        merchantId: String(l.merchant_id),
        unitPrice: Number(l.price),
        quantity: l.quantity,
        collections: l.collections,
      })),
      promotions: await this.pricing.activePromotions(tx),
      coupon,
      points:
        req.pointsToRedeem > 0
          ? {
              points: req.pointsToRedeem,
              pointValue: this.config.points.valueMinor,
              maxShareBps: this.config.points.maxShareBps,
            }
          : null,
      shipping: this.config.shipping,
      now,
    });

    // Coupon, points, then (last) stock: the lock order every transaction here follows.
    if (coupon) {
      if (!priced.coupon?.applied)
        throw fail(
          UserError.of(
            ErrorCode.COUPON_INVALID,
            `Coupon ${coupon.code} does not apply to this cart now`,
            'code',
          ),
        );
      const exhausted = await this.pricing.checkUsage(tx, coupon, buyerId);
      if (exhausted) throw fail(exhausted);
    }
    if (!(await spendPoints(tx, buyerId, priced.pointsUsed, checkoutId)))
      throw fail(UserError.of(ErrorCode.POINTS_INSUFFICIENT, 'Not enough points', 'pointsToRedeem'));
    const deadline = new Date(now.getTime() + this.config.paymentWindowSeconds * 1000);
    const byVariant = new Map(lines.map((l) => [String(l.variant_id), l]));
    const snapshots = new Map<string, { digest: string; title: string; data: object }>();
    const orderLines = priced.groups.flatMap((g) =>
      g.lines.map((pl) => {
        const l = byVariant.get(pl.key)!;
        const snapshot = this.snapshotOf(l);
        snapshots.set(snapshot.digest, snapshot);
        return { l, pl, digest: snapshot.digest };
      }),
    );
    const groups = priced.groups;
    markEventsWritten(); // the orders' first events
    const orders = await writeCheckout(tx, {
      checkoutId,
      buyerId,
      cartId: cart.cart_id,
      subtotal: priced.subtotal,
      discount: priced.discount,
      pointsDiscount: priced.pointsDiscount,
      pointsUsed: priced.pointsUsed,
      shippingFee: priced.shippingFee,
      total: priced.total,
      couponCode: coupon?.code ?? null,
      shippingAddress: address,
      paymentDeadline: deadline,
      orders: groups.map((g) => ({
        merchantId: g.merchantId,
        subtotal: g.subtotal,
        discount: g.discount,
        pointsDiscount: g.pointsDiscount,
        pointsUsed: g.pointsUsed,
        shippingFee: g.shippingFee,
        total: g.total,
      })),
      lines: orderLines.map((r) => ({
        merchantId: String(r.l.merchant_id),
        variantId: String(r.l.variant_id),
        productId: String(r.l.product_id),
        sku: r.l.sku,
        title: `${r.l.product_title} (${r.l.variant_title})`,
        attributes: r.l.attributes,
        stockPolicy: r.l.stock_policy,
        quantity: r.l.quantity,
        unitPrice: Number(r.l.price),
        subtotal: r.pl.subtotal,
        discount: r.pl.discount,
        pointsDiscount: r.pl.pointsDiscount,
        total: r.pl.total,
        snapshotDigest: r.digest,
      })),
    });
    // The coupon use refers to the checkout row, so it is taken after it exists.
    if (coupon && !(await this.pricing.redeem(tx, coupon.code, checkoutId, buyerId))) {
      throw fail(UserError.of(ErrorCode.COUPON_EXHAUSTED, `Coupon ${coupon.code} has been used up`, 'code'));
    }
    // Written in this transaction: the jobs exist exactly when the checkout does.
    await this.jobs.sendMany(
      [
        { name: SNAPSHOT_JOB, data: { snapshots: [...snapshots.values()] } },
        { name: EXPIRE_JOB, data: { checkoutId }, startAfter: deadline },
      ],
      { em: tx },
    );
    // Stock last: a hot variant's row stays locked only from its UPDATE to the commit. In variant id
    // order (the rows are sorted so), so concurrent checkouts never deadlock.
    for (const l of lines) {
      if (
        !(await takeStock(tx, {
          variantId: String(l.variant_id),
          quantity: l.quantity,
          policy: l.stock_policy,
        }))
      ) {
        throw fail(
          OutOfStockError.of(String(l.variant_id), l.quantity, await availableOf(tx, String(l.variant_id))),
        );
      }
    }

    return { checkoutId, total: priced.total, paymentDeadline: deadline, orders };
  }

  /**
   * Normal orders for a batch of flash-sale entries, in the caller's transaction: one checkout with
   * one order of one line each, at the sale price (no promotion, coupon or points: the sale price
   * is the offer), shipping by the usual rule, the sale's own payment window, and the units moved
   * from the sale's hold to each order's reservation. One statement writes the batch; the expiry
   * jobs are written in the same transaction. Throws (rolling the caller back) when the hold has
   * fewer units than the batch needs, which the caller checks under the hold's lock first.
   */
  async placeFlashSaleOrders(
    tx: EntityManager,
    batch: FlashSaleOrderBatch,
  ): Promise<{ checkoutId: string; orderId: string; deadline: Date }[]> {
    if (batch.buyers.length === 0) return [];
    const [v] = await sqlAll<Omit<CartLineRow, 'quantity' | 'stock_policy'>>(tx, FLASH_SALE_VARIANT_SQL, [
      batch.variantId,
    ]);
    const now = new Date();
    const deadline = new Date(now.getTime() + batch.paymentWindowSeconds * 1000);
    const line = {
      ...v,
      price: String(batch.unitPrice),
      quantity: 1,
      stock_policy: StockPolicy.RESERVE_ON_ORDER,
    };
    const snapshot = this.snapshotOf(line);
    const priced = batch.buyers.map((b) => {
      const g = price({
        lines: [
          {
            key: batch.variantId,
            merchantId: String(v.merchant_id),
            unitPrice: batch.unitPrice,
            quantity: b.quantity,
            collections: v.collections,
          },
        ],
        promotions: [],
        coupon: null,
        points: null,
        shipping: this.config.shipping,
        now,
      }).groups[0];
      return g;
    });
    markEventsWritten();
    const ids = await writeFlashSaleOrders(tx, {
      buyers: batch.buyers.map((b, i) => ({
        buyerId: b.buyerId,
        quantity: b.quantity,
        subtotal: priced[i].subtotal,
        discount: priced[i].discount,
        shippingFee: priced[i].shippingFee,
        total: priced[i].total,
      })),
      paymentDeadline: deadline,
      merchantId: String(v.merchant_id),
      variantId: String(v.variant_id),
      productId: String(v.product_id),
      sku: v.sku,
      title: `${v.product_title} (${v.variant_title})`,
      attributes: v.attributes,
      placeholderAddress: FLASH_SALE_ADDRESS_PLACEHOLDER,
      unitPrice: batch.unitPrice,
      snapshotDigest: snapshot.digest,
    });
    const moved = await reserveFromHold(tx, {
      flashSaleId: batch.flashSaleId,
      variantId: batch.variantId,
      until: deadline,
      items: ids.map((r, i) => ({ orderId: r.orderId, quantity: batch.buyers[i].quantity })),
    });
    if (!moved) throw new Error(`flash sale ${batch.flashSaleId} holds fewer units than its batch needs`);
    await this.jobs.sendMany(
      [
        { name: SNAPSHOT_JOB, data: { snapshots: [snapshot] } },
        ...ids.map((r) => ({ name: EXPIRE_JOB, data: { checkoutId: r.checkoutId }, startAfter: deadline })),
      ],
      { em: tx },
    );
    return ids.map((r) => ({ ...r, deadline }));
  }

  /** What was sold, as stored in the shared snapshot, and its SHA-256 digest. */
  private snapshotOf(l: CartLineRow): { digest: string; title: string; data: object } {
    return snapshotOf(l, this.config.currency);
  }

  /** Stores snapshots once per distinct content (the snapshot job). */
  async writeSnapshots(
    em: EntityManager,
    all: { digest: string; title: string; data: object }[],
  ): Promise<void> {
    const snapshots = [...new Map(all.map((s) => [s.digest, s])).values()];
    if (snapshots.length === 0) return;
    await sqlAll(
      em,
      `insert into product_snapshot (digest, title, data)
       select d, t, j from unnest($1::text[], $2::text[], $3::jsonb[]) as u(d, t, j) on conflict (digest) do nothing`,
      [
        snapshots.map((s) => s.digest),
        snapshots.map((s) => s.title),
        snapshots.map((s) => JSON.stringify(s.data)),
      ],
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

/** The fields of a product and variant that a snapshot records (a cart line, or the catalog now). */
export type SnapshotSource = Pick<
  CartLineRow,
  | 'product_id'
  | 'variant_id'
  | 'merchant_id'
  | 'category_id'
  | 'product_title'
  | 'variant_title'
  | 'sku'
  | 'description'
  | 'images'
  | 'collections'
  | 'attributes'
  | 'price'
>;

/** What was sold, as stored in the shared snapshot, and its SHA-256 digest. */
export function snapshotOf(
  l: SnapshotSource,
  currency: string,
): { digest: string; title: string; data: object } {
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
    currency,
  };
  return { digest: digest(data), title: l.product_title, data };
}
