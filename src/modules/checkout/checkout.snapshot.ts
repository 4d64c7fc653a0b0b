import { digest } from '../../shared/idempotency';
import type { Snapshot } from './checkout.draft';

/**
 * The fields of a product and variant that a snapshot records, as the catalog's columns name them
 * (a cart line, the catalog now, or a line the snapshot sweep rebuilds).
 */
export interface SnapshotSource {
  product_id: string;
  variant_id: string;
  merchant_id: string;
  category_id: string | null;
  product_title: string;
  variant_title: string;
  sku: string;
  description: string;
  images: string[];
  collections: string[];
  attributes: { name: string; value: string }[];
  price: string;
}

/** What was sold, as stored in the shared snapshot, and its SHA-256 digest. */
export function snapshotOf(l: SnapshotSource, currency: string): Snapshot {
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
