import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
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
  ImageType,
  MerchantType,
  SeoType,
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
import { oneOf } from './catalog.service';
import { isCached } from './catalog.cache';
import { rememberedValidation } from './remembered-validation';
import type { VariantLevels } from './catalog.loaders';

/** A product's variants: from its cached page (prices, no counts), or from PostgreSQL. */
const variantsOf = (p: Product, ctx: Context): Promise<Variant[]> | Variant[] =>
  isCached(p) ? p.cached.variants : ctx.loaders.catalog.variantsByProduct.load(String(p.id));

/** Operations (parsed once, reused by Apollo's document cache) that show variants themselves. */
const showsVariants = new WeakMap<object, boolean>();

/** Whether the operation selects a `variants` field anywhere (its fragments included). */
function operationShowsVariants(info: GraphQLResolveInfo): boolean {
  let shows = showsVariants.get(info.operation);
  if (shows === undefined) {
    shows = false;
    const visitSet = (set: SelectionSetNode | undefined): boolean =>
      !!set?.selections.some((s) =>
        s.kind === Kind.FIELD
          ? s.name.value === 'variants' || visitSet(s.selectionSet)
          : s.kind === Kind.INLINE_FRAGMENT && visitSet(s.selectionSet),
      );
    shows =
      visitSet(info.operation.selectionSet) ||
      Object.values(info.fragments).some((f) => visitSet(f.selectionSet));
    showsVariants.set(info.operation, shows);
  }
  return shows;
}

/**
 * What price range and availability read: the variants themselves when the operation loads them
 * anyway (one statement for both), else only their prices and counts (a narrower statement).
 */
const levelsOf = (
  p: Product,
  ctx: Context,
  info: GraphQLResolveInfo,
): Promise<(VariantLevels | Variant)[]> | (VariantLevels | Variant)[] =>
  isCached(p) || operationShowsVariants(info)
    ? variantsOf(p, ctx)
    : ctx.loaders.catalog.variantLevelsByProduct.load(String(p.id));

/** From the variant's counts when it has them, else from the cached levels. */
export async function variantAvailability(v: Variant | VariantLevels, ctx: Context): Promise<Availability> {
  if (v.onHand !== undefined) return availabilityOf(v, ctx.config.lowStockThreshold);
  return (await ctx.loaders.catalog.cachedLevel.load(String((v as Variant).id))) ?? Availability.OUT_OF_STOCK;
}

/** A meta description from a product description: whitespace collapsed, cut at a word near 160 characters. */
export function seoDescriptionOf(description: string): string | null {
  const text = description.replace(/\s+/g, ' ').trim();
  if (text.length <= 160) return text || null;
  const cut = text.slice(0, 157);
  const space = cut.lastIndexOf(' ');
  return `${(space > 100 ? cut.slice(0, space) : cut).replace(/[\s,.;:]+$/, '')}…`;
}

/** Storefronts send the same few filters over and over: each distinct one is validated once. */
const filterValidation = rememberedValidation();

@Resolver(() => ProductType)
export class ProductResolver {
  @Query(() => ProductType, {
    nullable: true,
    description:
      'By id or by slug (exactly one of them). Served from the shared catalog cache (prices shown may lag a change by moments; checkout always charges current prices).',
  })
  async product(
    @Arg('id', () => ID, { nullable: true }) id: string | null,
    @Arg('slug', () => String, { nullable: true }) slug: string | null,
    @Ctx() ctx: Context,
  ): Promise<Product | null> {
    const found =
      oneOf(id, slug) === 'id'
        ? isId(id!)
          ? id
          : null
        : await ctx.services.catalog.productIdBySlug(ctx.em, slug!);
    return found ? ctx.loaders.catalog.cachedProduct.load(found) : null;
  }

  @Query(() => ProductConnection, {
    description: 'Catalog search with filters, sorts, keyset pagination and facets.',
  })
  async products(
    @Arg('filter', () => ProductFilter, { nullable: true, validateFn: filterValidation })
    filter: ProductFilter | null,
    @Arg('sort', () => ProductSort, { nullable: true, defaultValue: ProductSort.RELEVANCE })
    sort: ProductSort | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ProductConnection> {
    const order = sort ?? ProductSort.RELEVANCE;
    assertSort(order);
    // A replica may serve it; the count/facet query starts here so that it runs there too.
    const page = await ctx.services.reads.forRead('catalog.search', ctx.principal, async () => {
      const page = await ctx.services.search.search(ctx.em, filter ?? {}, order, first ?? 20, after);
      // Start the count/facet query now, in parallel with the field resolvers of the page.
      // (facets alone need no stats while the search_facets switch sheds them)
      const wantsStats =
        selects(info, 'totalCount') ||
        (selects(info, 'facets') && ctx.services.switches.isOn('search_facets'));
      if (wantsStats) void page.stats().catch(() => undefined);
      return page;
    });
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

  @FieldResolver(() => [ImageType])
  media(@Root() p: Product): ImageType[] {
    return (p.media ?? []).map((m) => ({
      url: m.url,
      alt: m.alt ?? null,
      width: m.width ?? null,
      height: m.height ?? null,
    }));
  }

  @FieldResolver(() => SeoType, {
    description:
      'Set with the product, or derived: the title, and the description cut to about 160 characters.',
  })
  seo(@Root() p: Product): SeoType {
    return { title: p.seoTitle || p.title, description: p.seoDescription || seoDescriptionOf(p.description) };
  }

  @FieldResolver(() => MerchantType)
  merchant(@Root() p: Product, @Ctx() ctx: Context): Promise<Merchant | null> | Merchant | null {
    if (isCached(p)) return p.cached.merchant;
    return ctx.loaders.catalog.merchant.load(String(p.merchantId));
  }

  @FieldResolver(() => CategoryType, { nullable: true })
  category(@Root() p: Product, @Ctx() ctx: Context): Promise<Category | null> | null {
    if (!p.categoryId) return null;
    if (isCached(p)) return ctx.loaders.catalog.cachedCategory(String(p.categoryId));
    return ctx.loaders.catalog.category.load(String(p.categoryId));
  }

  @FieldResolver(() => [VariantType])
  variants(@Root() p: Product, @Ctx() ctx: Context): Promise<Variant[]> | Variant[] {
    return variantsOf(p, ctx);
  }

  @FieldResolver(() => PriceRange)
  async priceRange(
    @Root() p: Product,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<PriceRange> {
    const prices = (await levelsOf(p, ctx, info)).map((v) => v.price);
    const c = ctx.config.currency;
    return {
      min: Money.of(prices.length ? Math.min(...prices) : 0, c),
      max: Money.of(prices.length ? Math.max(...prices) : 0, c),
    };
  }

  @FieldResolver(() => Availability, { description: 'The best availability among the variants.' })
  async availability(
    @Root() p: Product,
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Availability> {
    const variants = await levelsOf(p, ctx, info);
    return bestAvailability(await Promise.all(variants.map((v) => variantAvailability(v, ctx))));
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
    return ctx.services.catalogCache.enabled
      ? ctx.services.catalogCache.categoryTree(ctx.em)
      : ctx.services.catalog.categories(ctx.em);
  }

  @Query(() => CategoryType, { nullable: true, description: 'By id or by slug (exactly one of them).' })
  category(
    @Arg('id', () => ID, { nullable: true }) id: string | null,
    @Arg('slug', () => String, { nullable: true }) slug: string | null,
    @Ctx() ctx: Context,
  ): Promise<Category | null> {
    const by = oneOf(id, slug);
    return ctx.services.catalog.category(ctx.em, by, (by === 'id' ? id : slug)!);
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
    if (!c.parentId) return null;
    if ((c as { fromTree?: boolean }).fromTree) return ctx.loaders.catalog.cachedCategory(String(c.parentId));
    return ctx.loaders.catalog.category.load(String(c.parentId));
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
