import { ArrayType, Entity, Enum, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

export enum StockPolicy {
  RESERVE_ON_ORDER = 'RESERVE_ON_ORDER',
  DEDUCT_ON_ORDER = 'DEDUCT_ON_ORDER',
  DEDUCT_ON_PAYMENT = 'DEDUCT_ON_PAYMENT',
}

/** A product picture as a storefront lays it out. */
export interface ImageData {
  url: string;
  alt?: string | null;
  width?: number | null;
  height?: number | null;
}

/**
 * Search columns (search, attrs, price_min, price_max, in_stock, sold_total, category_path) exist on
 * the table but are maintained by PostgreSQL triggers; the entity never reads or writes them.
 */
@Entity({ tableName: 'product' })
export class Product {
  [OptionalProps]?:
    | 'createdAt'
    | 'updatedAt'
    | 'collections'
    | 'images'
    | 'stockPolicy'
    | 'categoryId'
    | 'slug'
    | 'media'
    | 'seoTitle'
    | 'seoDescription';

  @PrimaryKey({ type: 'bigint' })
  id!: string;

  @Property({ type: 'bigint' })
  merchantId!: string;

  @Property({ type: 'bigint', nullable: true })
  categoryId?: string | null;

  @Property({ type: 'text' })
  title!: string;

  @Property({ type: 'text' })
  description!: string;

  /** Unique and URL-safe; PostgreSQL generates it from the title when an insert gives none. */
  @Property({ type: 'text', nullable: true })
  slug!: string;

  @Property({ type: 'json' })
  media: ImageData[] = [];

  /** Null: the storefront's SEO title is the product title. */
  @Property({ type: 'text', nullable: true })
  seoTitle?: string | null;

  /** Null: derived from the description. */
  @Property({ type: 'text', nullable: true })
  seoDescription?: string | null;

  @Property({ type: ArrayType })
  collections: string[] = [];

  @Property({ type: ArrayType })
  images: string[] = [];

  @Enum({ items: () => StockPolicy })
  stockPolicy: StockPolicy = StockPolicy.RESERVE_ON_ORDER;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
