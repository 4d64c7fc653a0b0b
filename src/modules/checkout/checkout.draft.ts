import type { StockPolicy } from '../catalog/product.entity';
import type { Order } from '../order/order.store';
import type { PricingResult } from '../pricing/pricing';
import type { CouponRow } from '../pricing/pricing.service';

/**
 * What a checkout knows as it goes: each step of the placement (checkout.steps.ts) takes a draft
 * and returns a richer one, all inside the checkout's one transaction. A step that finds a problem
 * throws `Rollback(error)`, and nothing any step wrote survives.
 */

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

/** A cart line as the checkout reads it: the line, its variant and its product. */
export interface CartLine {
  variantId: string;
  quantity: number;
  unitPrice: number;
  sku: string;
  variantTitle: string;
  attributes: { name: string; value: string }[];
  merchantId: string;
  productId: string;
  productTitle: string;
  description: string;
  images: string[];
  collections: string[];
  categoryId: string | null;
  stockPolicy: StockPolicy;
}

/** The locked cart with its lines (in variant id order) and the buyer's points. */
export interface CartRecord {
  id: string;
  customerId: string | null;
  status: string;
  couponCode: string | null;
  buyerPoints: number;
  lines: CartLine[];
}

/** After the key is claimed and the cart read: what was asked and what the cart holds. */
export interface CheckoutDraft {
  checkoutId: string;
  buyerId: string;
  request: CheckoutRequest;
  address: AddressData;
  cart: CartRecord;
}

/** After pricing: the coupon (locked), the prices per line and merchant, the payment deadline. */
export interface PricedDraft extends CheckoutDraft {
  now: Date;
  paymentDeadline: Date;
  coupon: CouponRow | null;
  priced: PricingResult;
}

/** What was sold, as stored in the shared snapshot, and its SHA-256 digest. */
export interface Snapshot {
  digest: string;
  title: string;
  data: object;
}

/** After the write: the orders as stored, and the snapshots their lines refer to. */
export interface WrittenDraft extends PricedDraft {
  orders: Order[];
  snapshots: Snapshot[];
}
