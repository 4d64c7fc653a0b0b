import type { Category } from './category.entity';
import type { Merchant } from './merchant.entity';
import type { Product, StockPolicy } from './product.entity';
import type { Variant } from './variant.entity';

/**
 * Catalog rows as plain objects of the entities' shape. The read paths (search pages, DataLoaders)
 * build these straight from SQL rows: hydrating managed entities cost a third of a search's CPU,
 * and nothing on those paths writes.
 */
type Row = Record<string, any>;

export const toProduct = (r: Row): Product =>
  ({
    id: String(r.id),
    merchantId: String(r.merchant_id),
    categoryId: r.category_id === null ? null : String(r.category_id),
    title: r.title,
    description: r.description,
    slug: r.slug,
    media: r.media ?? [],
    seoTitle: r.seo_title ?? null,
    seoDescription: r.seo_description ?? null,
    collections: r.collections,
    images: r.images,
    stockPolicy: r.stock_policy as StockPolicy,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }) as Product;

export const toVariant = (r: Row): Variant =>
  ({
    id: String(r.id),
    productId: String(r.product_id),
    merchantId: String(r.merchant_id),
    sku: r.sku,
    title: r.title,
    attributes: r.attributes,
    price: Number(r.price),
    onHand: r.on_hand,
    reserved: r.reserved,
    sold: r.sold,
    createdAt: r.created_at,
  }) as Variant;

export const toMerchant = (r: Row): Merchant =>
  ({ id: String(r.id), name: r.name, createdAt: r.created_at }) as Merchant;

export const toCategory = (r: Row): Category =>
  ({
    id: String(r.id),
    name: r.name,
    slug: r.slug,
    parentId: r.parent_id === null ? null : String(r.parent_id),
    createdAt: r.created_at,
  }) as Category;
