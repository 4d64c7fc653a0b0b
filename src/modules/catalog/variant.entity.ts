import { BigIntType, Entity, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

export interface AttributePair {
  name: string;
  value: string;
}

/** A sellable variant of a product; it also holds the variant's inventory counters. */
@Entity({ tableName: 'variant' })
export class Variant {
  [OptionalProps]?: 'createdAt' | 'reserved' | 'sold' | 'onHand' | 'attributes';

  @PrimaryKey({ type: 'bigint' })
  id!: string;

  @Property({ type: 'bigint' })
  productId!: string;

  @Property({ type: 'bigint' })
  merchantId!: string;

  @Property({ type: 'text' })
  sku!: string;

  @Property({ type: 'text' })
  title!: string;

  @Property({ type: 'json' })
  attributes: AttributePair[] = [];

  /** Minor units. */
  @Property({ type: new BigIntType('number') })
  price!: number;

  @Property({ type: 'integer' })
  onHand = 0;

  @Property({ type: 'integer' })
  reserved = 0;

  @Property({ type: 'integer' })
  sold = 0;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
