import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize, canManage } from '../../shared/auth';
import { Money } from '../../shared/types';
import { Role } from '../identity/user.entity';
import { toLevel, type InventoryLevelData } from '../inventory/inventory.service';
import { Availability, InventoryLevel, ProductType, VariantType } from './catalog.types';
import type { Product } from './product.entity';
import type { Variant } from './variant.entity';
import { variantAvailability } from './catalog.resolver';

@Resolver(() => VariantType)
export class VariantResolver {
  @FieldResolver(() => ID)
  id(@Root() v: Variant): string {
    return String(v.id);
  }

  @FieldResolver(() => Money)
  price(@Root() v: Variant, @Ctx() ctx: Context): Money {
    return Money.of(v.price, ctx.config.currency);
  }

  @FieldResolver(() => Availability)
  availability(@Root() v: Variant, @Ctx() ctx: Context): Promise<Availability> {
    return variantAvailability(v, ctx);
  }

  @FieldResolver(() => ProductType)
  product(@Root() v: Variant, @Ctx() ctx: Context): Promise<Product | null> {
    return ctx.loaders.catalog.product.load(String(v.productId));
  }

  @FieldResolver(() => InventoryLevel, {
    nullable: true,
    description: "Exact counts: visible to the product's merchant and to admins only (null for others).",
  })
  async inventory(@Root() v: Variant, @Ctx() ctx: Context): Promise<InventoryLevelData | null> {
    if (!canManage(ctx.principal, String(v.merchantId))) return null;
    // A variant of a cached page has no counts: exact counts always come from PostgreSQL.
    const counts = v.onHand !== undefined ? v : await ctx.loaders.catalog.variant.load(String(v.id));
    return counts ? toLevel(counts) : null;
  }

  @Mutation(() => InventoryLevel, {
    description: 'MERCHANT: set the stock on hand of an own variant (ADMIN: any).',
  })
  inventorySet(
    @Arg('variantId', () => ID) variantId: string,
    @Arg('onHand', () => Int) onHand: number,
    @Ctx() ctx: Context,
  ): Promise<InventoryLevelData> {
    const p = authorize(ctx.principal, Role.MERCHANT, Role.ADMIN);
    return ctx.services.inventory.setOnHand(ctx.em, p, variantId, onHand);
  }
}
