import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config';
import { sqlAll } from '../../db/sql';
import { inTransaction } from '../../db/transaction';
import { ErrorCode, type Result, UserError } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { digest, readClaim, withIdempotency, type Claim } from '../../shared/idempotency';
import type { Jobs } from '../../shared/jobs';
import { StockPolicy } from '../catalog/product.entity';
import type { OutOfStockError } from '../inventory/inventory.errors';
import { reserveFromHold } from '../inventory/inventory.store';
import type { Order, OrderService } from '../order/order.service';
import { writeFlashSaleOrders } from '../order/order.store';
import { price } from '../pricing/pricing';
import { CLAIM_AND_READ_CART_SQL, FLASH_SALE_VARIANT_SQL } from './checkout.sql';
import type { AddressData, CartLine, CartRecord, CheckoutDraft, CheckoutRequest } from './checkout.draft';
import { snapshotOf, type SnapshotSource } from './checkout.snapshot';
import {
  checkCart,
  EXPIRE_JOB,
  priceCart,
  redeemCoupon,
  redeemPoints,
  scheduleJobs,
  SNAPSHOT_JOB,
  takeCartStock,
  writeOrders,
  type CheckoutDeps,
} from './checkout.steps';
import { markEventsWritten } from '../events/outbox-signal';
import type { PricingService } from '../pricing/pricing.service';
import type { SwitchService } from '../switches/switches.service';

export type { AddressData, CheckoutRequest } from './checkout.draft';
export { EXPIRE_JOB, SNAPSHOT_JOB } from './checkout.steps';

/** A checkout carries its total and deadline; a new one also its orders (a repeated request reads them when asked). */
export type CheckoutOutcome = Result<
  { checkoutId: string; total: number; paymentDeadline: Date; orders?: Order[] },
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
type CartReadRow = { [K in keyof LineColumns]: LineColumns[K] | null } & {
  claimed_ref: string | null;
  cart_id: string;
  customer_id: string | null;
  status: string;
  coupon_code: string | null;
  buyer_points: number;
};

type LineColumns = Omit<SnapshotSource, 'price'> & {
  quantity: number;
  price: string;
  stock_policy: StockPolicy;
};

/** The cart read as one typed record: the rows converted once, here. */
function cartRecord(rows: CartReadRow[]): CartRecord {
  const c = rows[0];
  return {
    id: c.cart_id,
    customerId: c.customer_id === null ? null : String(c.customer_id),
    status: c.status,
    couponCode: c.coupon_code,
    buyerPoints: Number(c.buyer_points ?? 0),
    lines: rows.filter((r) => r.variant_id !== null).map((r) => lineRecord(r as LineColumns)),
  };
}

function lineRecord(r: LineColumns): CartLine {
  return {
    variantId: String(r.variant_id),
    quantity: r.quantity,
    unitPrice: Number(r.price),
    sku: r.sku,
    variantTitle: r.variant_title,
    attributes: r.attributes,
    merchantId: String(r.merchant_id),
    productId: String(r.product_id),
    productTitle: r.product_title,
    description: r.description,
    images: r.images,
    collections: r.collections,
    categoryId: r.category_id === null ? null : String(r.category_id),
    stockPolicy: r.stock_policy,
  };
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

/**
 * Checkout: one transaction that turns a cart into one order per merchant, all or nothing, as the
 * named steps of checkout.steps.ts over a typed draft (checkout.draft.ts).
 */
export class CheckoutService {
  private readonly deps: CheckoutDeps;

  constructor(
    private readonly config: Config,
    private readonly pricing: PricingService,
    private readonly orders: OrderService,
    private readonly jobs: Jobs,
    private readonly switches: SwitchService,
  ) {
    this.deps = { config, pricing, jobs };
  }

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
        // The customer's caps lock taken, the key claimed (drawing the checkout id, so the key row
        // needs no second write) and the cart locked and read, in one statement.
        const rows = await sqlAll<CartReadRow>(tx, CLAIM_AND_READ_CART_SQL, [
          req.cartId,
          buyerId,
          req.idempotencyKey,
          requestHash,
        ]);
        // No cart: whatever the key says, not found (a key reused for another checkout is refused first).
        if (rows.length === 0) return withIdempotency(tx, idempotent, { run: missing, replay: missing });
        if (rows[0].claimed_ref) {
          const draft = {
            checkoutId: rows[0].claimed_ref,
            buyerId,
            request: req,
            address,
            cart: cartRecord(rows),
          };
          return this.place(tx, draft);
        }
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
      // The key was used before (or the cart id is malformed: not found): the key's outcome
      // decides. A repeat answers the checkout as stored, read with the key in one statement.
      return withIdempotency<CheckoutOutcome, StoredCheckout>(
        tx,
        idempotent,
        {
          run: missing,
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
   * The checkout itself, in as few round trips as the rules allow: the draft holds the one read
   * of cart, lines and points (with the key's claim); one statement writes checkout, orders,
   * lines, reservations, events and the cart's new status after checking the customer's caps, and
   * returns the orders for the reply; one for the jobs; one conditional UPDATE per line.
   */
  private async place(tx: EntityManager, draft: CheckoutDraft): Promise<CheckoutOutcome> {
    const priced = await redeemPoints(tx, await priceCart(tx, this.deps, checkCart(draft)));
    let written = await writeOrders(tx, this.deps, priced);
    written = await redeemCoupon(tx, this.deps, written);
    written = await scheduleJobs(tx, this.deps, written);
    written = await takeCartStock(tx, written);
    return {
      checkoutId: written.checkoutId,
      total: written.priced.total,
      paymentDeadline: written.paymentDeadline,
      orders: written.orders,
    };
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
    const [v] = await sqlAll<SnapshotSource>(tx, FLASH_SALE_VARIANT_SQL, [batch.variantId]);
    const now = new Date();
    const deadline = new Date(now.getTime() + batch.paymentWindowSeconds * 1000);
    const snapshot = snapshotOf({ ...v, price: String(batch.unitPrice) }, this.config.currency);
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
