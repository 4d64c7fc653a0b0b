import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { authorize, authorizeMerchant } from '../../shared/auth';
import { Money } from '../../shared/types';
import { selects } from '../../shared/selection';
import { isId } from '../../shared/ids';
import { Role } from '../identity/user.entity';
import { availabilityOf, bestAvailability } from '../inventory/availability';
import { CategoryCreateInput, ProductCreateInput, ProductFilter, ProductUpdateInput } from './catalog.inputs';
import {
  Availability,
  CategoryType,
  Facet,
  MerchantType,
  PriceRange,
  ProductConnection,
  ProductSort,
  ProductType,
} from './catalog.types';
import type { Category } from './category.entity';
import type { Merchant } from './merchant.entity';
import type { Product } from './product.entity';
import type { Variant } from './variant.entity';
import { VariantType } from './catalog.types';
import { assertSort } from './search.sql';

@Resolver(() => ProductType)
export class ProductResolver {
  @Query(() => ProductType, { nullable: true })
  product(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<Product | null> | null {
    return isId(id) ? ctx.loaders.catalog.product.load(id) : null;
  }

  @Query(() => ProductConnection, {
    description: 'Catalog search with filters, sorts, keyset pagination and facets.',
  })
  async products(
    @Arg('filter', () => ProductFilter, { nullable: true }) filter: ProductFilter | null,
    @Arg('sort', () => ProductSort, { nullable: true, defaultValue: ProductSort.RELEVANCE })
    sort: ProductSort | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ProductConnection> {
    const order = sort ?? ProductSort.RELEVANCE;
    assertSort(order);
    const page = await ctx.services.search.search(ctx.em, filter ?? {}, order, first ?? 20, after);
    // Start the count/facet query now, in parallel with the field resolvers of the page.
    // (facets alone need no stats while the search_facets switch sheds them)
    const wantsStats =
      selects(info, 'totalCount') || (selects(info, 'facets') && ctx.services.switches.isOn('search_facets'));
    if (wantsStats) void page.stats().catch(() => undefined);
    return Object.assign(new ProductConnection(), {
      edges: page.items.map((i) => ({ cursor: i.cursor, node: i.product })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.items.at(-1)?.cursor ?? null },
      stats: page.stats,
    });
  }

  @Mutation(() => ProductType, { description: 'MERCHANT: creates a product of the signed-in merchant.' })
  productCreate(
    @Arg('input', () => ProductCreateInput) input: ProductCreateInput,
    @Ctx() ctx: Context,
  ): Promise<Product> {
    const p = authorizeMerchant(ctx.principal);
    return ctx.services.catalog.createProduct(ctx.em, p.merchantId, input);
  }

  @Mutation(() => ProductType, { description: 'MERCHANT: own products only (ADMIN: any).' })
  productUpdate(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => ProductUpdateInput) input: ProductUpdateInput,
    @Ctx() ctx: Context,
  ): Promise<Product> {
    const p = authorize(ctx.principal, Role.MERCHANT, Role.ADMIN);
    return ctx.services.catalog.updateProduct(ctx.em, p, id, input);
  }

  @FieldResolver(() => MerchantType)
  merchant(@Root() p: Product, @Ctx() ctx: Context): Promise<Merchant | null> {
    return ctx.loaders.catalog.merchant.load(String(p.merchantId));
  }

  @FieldResolver(() => CategoryType, { nullable: true })
  category(@Root() p: Product, @Ctx() ctx: Context): Promise<Category | null> | null {
    return p.categoryId ? ctx.loaders.catalog.category.load(String(p.categoryId)) : null;
  }

  @FieldResolver(() => [VariantType])
  variants(@Root() p: Product, @Ctx() ctx: Context): Promise<Variant[]> {
    return ctx.loaders.catalog.variantsByProduct.load(String(p.id));
  }

  @FieldResolver(() => PriceRange)
  async priceRange(@Root() p: Product, @Ctx() ctx: Context): Promise<PriceRange> {
    const prices = (await ctx.loaders.catalog.variantsByProduct.load(String(p.id))).map((v) => v.price);
    const c = ctx.config.currency;
    return {
      min: Money.of(prices.length ? Math.min(...prices) : 0, c),
      max: Money.of(prices.length ? Math.max(...prices) : 0, c),
    };
  }

  @FieldResolver(() => Availability, { description: 'The best availability among the variants.' })
  async availability(@Root() p: Product, @Ctx() ctx: Context): Promise<Availability> {
    const variants = await ctx.loaders.catalog.variantsByProduct.load(String(p.id));
    return bestAvailability(variants.map((v) => availabilityOf(v, ctx.config.lowStockThreshold)));
  }

  @FieldResolver(() => [ProductType], {
    description: 'Products most often bought together with this one, from order history.',
  })
  async alsoBought(
    @Root() p: Product,
    @Arg('first', () => Int, { nullable: true, defaultValue: 5 }) first: number | null,
    @Ctx() ctx: Context,
  ): Promise<Product[]> {
    if (!ctx.services.switches.isOn('recommendations')) return [];
    const n = Math.min(Math.max(first ?? 5, 0), 20);
    const ids = (await ctx.loaders.catalog.alsoBought.load(String(p.id))).slice(0, n);
    return (await ctx.loaders.catalog.product.loadMany(ids)).filter(
      (x): x is Product => !!x && !(x instanceof Error),
    );
  }

  @FieldResolver(() => ID)
  id(@Root() p: Product): string {
    return String(p.id);
  }
}

@Resolver(() => ProductConnection)
export class ProductConnectionResolver {
  @FieldResolver(() => Int, { description: 'Products matching the filter, over all pages.' })
  async totalCount(@Root() c: ProductConnection): Promise<number> {
    return (await c.stats()).totalCount;
  }

  @FieldResolver(() => [Facet], { description: 'Empty while the search_facets switch is off.' })
  async facets(@Root() c: ProductConnection, @Ctx() ctx: Context): Promise<Facet[]> {
    if (!ctx.services.switches.isOn('search_facets')) return [];
    return (await c.stats()).facets;
  }
}

@Resolver(() => CategoryType)
export class CategoryResolver {
  @Query(() => [CategoryType], { description: 'The whole category tree, parents before children.' })
  categories(@Ctx() ctx: Context): Promise<Category[]> {
    return ctx.services.catalog.categories(ctx.em);
  }

  @Mutation(() => CategoryType, { description: 'ADMIN.' })
  categoryCreate(
    @Arg('input', () => CategoryCreateInput) input: CategoryCreateInput,
    @Ctx() ctx: Context,
  ): Promise<Category> {
    authorize(ctx.principal, Role.ADMIN);
    return ctx.services.catalog.createCategory(ctx.em, input);
  }

  @FieldResolver(() => CategoryType, { nullable: true })
  parent(@Root() c: Category, @Ctx() ctx: Context): Promise<Category | null> | null {
    return c.parentId ? ctx.loaders.catalog.category.load(String(c.parentId)) : null;
  }

  @FieldResolver(() => ID)
  id(@Root() c: Category): string {
    return String(c.id);
  }
}

@Resolver(() => MerchantType)
export class MerchantResolver {
  @FieldResolver(() => ID)
  id(@Root() m: Merchant): string {
    return String(m.id);
  }
}
