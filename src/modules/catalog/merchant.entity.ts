import { Entity, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

@Entity({ tableName: 'merchant' })
export class Merchant {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'bigint' })
  id!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
