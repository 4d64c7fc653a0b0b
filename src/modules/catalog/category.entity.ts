import { Entity, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

@Entity({ tableName: 'category' })
export class Category {
  [OptionalProps]?: 'createdAt' | 'parentId';

  @PrimaryKey({ type: 'bigint' })
  id!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: 'text' })
  slug!: string;

  @Property({ type: 'bigint', nullable: true })
  parentId?: string | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
