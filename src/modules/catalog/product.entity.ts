import { ArrayType, Entity, Enum, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

export enum StockPolicy {
  RESERVE_ON_ORDER = 'RESERVE_ON_ORDER',
  DEDUCT_ON_ORDER = 'DEDUCT_ON_ORDER',
  DEDUCT_ON_PAYMENT = 'DEDUCT_ON_PAYMENT',
}

/**
 * Search columns (search, attrs, price_min, price_max, in_stock, sold_total, category_path) exist on
 * the table but are maintained by PostgreSQL triggers; the entity never reads or writes them.
 */
@Entity({ tableName: 'product' })
export class Product {
  [OptionalProps]?: 'createdAt' | 'updatedAt' | 'collections' | 'images' | 'stockPolicy' | 'categoryId';

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
