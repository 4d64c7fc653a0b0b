import { Category } from './catalog/category.entity';
import { Merchant } from './catalog/merchant.entity';
import { Product } from './catalog/product.entity';
import { Variant } from './catalog/variant.entity';
import { User } from './identity/user.entity';

/** Every MikroORM entity, registered explicitly (no folder scanning). */
export const entities = [User, Merchant, Category, Product, Variant];
