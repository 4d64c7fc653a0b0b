import { ArrayType, Entity, PrimaryKey, Property, OptionalProps } from '@mikro-orm/core';

import { Role } from '../../shared/roles';

export { Role };

@Entity({ tableName: 'app_user' })
export class User {
  [OptionalProps]?: 'roles' | 'points' | 'createdAt' | 'merchantId' | 'tokenVersion';

  @PrimaryKey({ type: 'bigint' })
  id!: string;

  @Property({ type: 'text' })
  email!: string;

  @Property({ type: 'text', hidden: true, lazy: true })
  passwordHash!: string;

  @Property({ type: 'text' })
  name!: string;

  @Property({ type: ArrayType })
  roles: Role[] = [Role.CUSTOMER];

  /** The merchant this user operates (MERCHANT users). */
  @Property({ type: 'bigint', nullable: true })
  merchantId?: string | null;

  @Property({ type: 'integer' })
  points = 0;

  /** Tokens signed with an older version are refused (signOut, password change: docs/security.md). */
  @Property({ type: 'integer' })
  tokenVersion = 0;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
