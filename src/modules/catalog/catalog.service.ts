import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { badInput, notFound } from '../../shared/errors';
import { parseMoney } from '../../shared/money';
import { isId, requireId } from '../../shared/ids';
import { canManage, type Principal } from '../../shared/auth';
import type { CategoryCreateInput, ProductCreateInput, ProductUpdateInput } from './catalog.inputs';
import { Category } from './category.entity';
import { Merchant } from './merchant.entity';
import { Product, StockPolicy, type ImageData } from './product.entity';
import { Variant } from './variant.entity';
import { toProduct } from './catalog.rows';
import { PRODUCT_COLUMNS } from './search.sql';
import { SLUG } from './catalog.inputs';
import type { CatalogCache } from './catalog.cache';

/** What a committed catalog write changed; the caches drop exactly that. */
export interface CatalogChange {
  productIds?: string[];
  /** Slugs that stopped or started naming a product. */
  slugs?: string[];
  categories?: boolean;
}

/** How many times a create is retried when two creates picked the same generated slug. */
const SLUG_ATTEMPTS = 5;

const isSlugClash = (e: unknown) =>
  e instanceof UniqueConstraintViolationException && /product_slug_key/.test(String(e.message));

const toMedia = (media: ImageData[] | null | undefined): ImageData[] =>
  (media ?? []).map((m) => ({
    url: m.url,
    alt: m.alt?.trim() || null,
    width: m.width ?? null,
    height: m.height ?? null,
  }));

/** "Exactly one of id and slug", as the product and category queries take them. */
export function oneOf(id: string | null | undefined, slug: string | null | undefined): 'id' | 'slug' {
  if ((id == null) === (slug == null))
    throw badInput('Give exactly one of id and slug', id == null ? 'id' : 'slug');
  return id != null ? 'id' : 'slug';
}

/** A well-formed slug, or null (which names nothing). */
export const slugOrNull = (slug: string): string | null =>
  slug.length <= 100 && SLUG.test(slug) ? slug : null;

const uniq = (xs: string[] | null | undefined) => [
  ...new Set((xs ?? []).map((x) => x.trim()).filter(Boolean)),
];

export class CatalogService {
  /** `onChanged` runs after every committed catalog write (the caches listen) and is awaited. */
  constructor(
    private readonly onChanged: (change: CatalogChange) => unknown = () => undefined,
    /** Storefront reads (slugs, categories) go through it when it is on. */
    private readonly cache?: CatalogCache,
  ) {}

  categories(em: EntityManager): Promise<Category[]> {
    return em.find(Category, {}, { orderBy: { id: 'asc' } });
  }

  /** A category by id or by slug; null when there is none. */
  async category(em: EntityManager, by: 'id' | 'slug', value: string): Promise<Category | null> {
    if (by === 'id' ? !isId(value) : !slugOrNull(value)) return null;
    if (this.cache?.enabled) {
      const tree = await this.cache.categoryTree(em);
      return tree.find((c) => (by === 'id' ? String(c.id) === value : c.slug === value)) ?? null;
    }
    return em.findOne(Category, by === 'id' ? { id: value } : { slug: value });
  }

  /** The id of the product a slug names, or null. */
  async productIdBySlug(em: EntityManager, slug: string): Promise<string | null> {
    if (!slugOrNull(slug)) return null;
    if (this.cache?.enabled) return this.cache.productIdBySlug(em, slug);
    const [row] = await sqlAll<{ id: string }>(em, 'select id from product where slug = $1', [slug]);
    return row ? String(row.id) : null;
  }

  async createCategory(em: EntityManager, input: CategoryCreateInput): Promise<Category> {
    if (input.parentId && (!isId(input.parentId) || !(await em.findOne(Category, { id: input.parentId })))) {
      throw notFound('Category', input.parentId);
    }
    const category = em.create(Category, {
      name: input.name.trim(),
      slug: input.slug,
      parentId: input.parentId ?? null,
    });
    try {
      await em.flush();
    } catch (e) {
      if (e instanceof UniqueConstraintViolationException)
        throw badInput(`Slug "${input.slug}" is taken`, 'slug');
      throw e;
    }
    await this.onChanged({ categories: true });
    return category;
  }

  async createMerchant(em: EntityManager, name: string): Promise<Merchant> {
    const merchant = em.create(Merchant, { name: name.trim() });
    await em.flush();
    return merchant;
  }

  /** Product and variants in one transaction; the search data follows through triggers. */
  async createProduct(em: EntityManager, merchantId: string, input: ProductCreateInput): Promise<Product> {
    if (
      input.categoryId &&
      (!isId(input.categoryId) || !(await em.findOne(Category, { id: input.categoryId })))
    ) {
      throw notFound('Category', input.categoryId);
    }
    const skus = input.variants.map((v) => v.sku);
    const dup = skus.find((s, i) => skus.indexOf(s) !== i);
    if (dup) throw badInput(`SKU ${dup} appears twice`, 'variants.sku');
    const prices = input.variants.map((v, i) => parseMoney(v.price, `variants[${i}].price`));
    const create = () =>
      em.transactional(async (tx) => {
        const product = tx.create(Product, {
          merchantId,
          categoryId: input.categoryId ?? null,
          title: input.title.trim(),
          description: input.description,
          // Unset: the database's trigger makes it from the title.
          ...(input.slug ? { slug: input.slug } : {}),
          media: toMedia(input.media),
          seoTitle: input.seo?.title?.trim() || null,
          seoDescription: input.seo?.description?.trim() || null,
          collections: uniq(input.collections),
          images: input.images ?? [],
          stockPolicy: input.stockPolicy ?? StockPolicy.RESERVE_ON_ORDER,
        });
        await tx.flush();
        input.variants.forEach((v, i) =>
          tx.create(Variant, {
            productId: product.id,
            merchantId,
            sku: v.sku,
            title: v.title.trim(),
            attributes: v.attributes.map((a) => ({ name: a.name.trim(), value: a.value.trim() })),
            price: prices[i],
            onHand: v.onHand,
          }),
        );
        try {
          await tx.flush();
        } catch (e) {
          if (e instanceof UniqueConstraintViolationException) {
            throw badInput(
              'A variant SKU is already used by another product of this merchant',
              'variants.sku',
            );
          }
          throw e;
        }
        return product.id;
      });
    let id: string | undefined;
    for (let attempt = 1; !id; attempt++) {
      try {
        id = await create();
      } catch (e) {
        if (!isSlugClash(e)) throw e;
        if (input.slug) throw badInput(`Slug "${input.slug}" is taken`, 'slug');
        // Another create took the same generated slug at the same moment: pick again.
        if (attempt >= SLUG_ATTEMPTS) throw e;
      }
    }
    // The slug may come from the database's trigger: read the row as stored.
    const [row] = await sqlAll<Record<string, any>>(
      em,
      `select ${PRODUCT_COLUMNS} from product p where id = $1`,
      [id],
    );
    const created = toProduct(row);
    await this.onChanged({ productIds: [created.id], slugs: [created.slug] });
    return created;
  }

  /** Another merchant's product reads as not found. */
  async updateProduct(
    em: EntityManager,
    principal: Principal,
    id: string,
    input: ProductUpdateInput,
  ): Promise<Product> {
    const product = await em.findOne(Product, { id: requireId(id, 'Product') });
    if (!product || !canManage(principal, String(product.merchantId))) throw notFound('Product', id);
    if (
      input.categoryId &&
      (!isId(input.categoryId) || !(await em.findOne(Category, { id: input.categoryId })))
    ) {
      throw notFound('Category', input.categoryId);
    }
    const oldSlug = product.slug;
    if (input.title != null) product.title = input.title.trim();
    if (input.description != null) product.description = input.description;
    if (input.slug != null) product.slug = input.slug;
    if (input.media != null) product.media = toMedia(input.media);
    if (input.seo != null) {
      if (input.seo.title !== undefined) product.seoTitle = input.seo.title?.trim() || null;
      if (input.seo.description !== undefined) product.seoDescription = input.seo.description?.trim() || null;
    }
    if (input.categoryId !== undefined) product.categoryId = input.categoryId;
    if (input.collections != null) product.collections = uniq(input.collections);
    if (input.images != null) product.images = input.images;
    if (input.stockPolicy != null) product.stockPolicy = input.stockPolicy;
    try {
      await em.flush();
    } catch (e) {
      if (isSlugClash(e)) throw badInput(`Slug "${input.slug}" is taken`, 'slug');
      throw e;
    }
    await this.onChanged({ productIds: [String(product.id)], slugs: [...new Set([oldSlug, product.slug])] });
    return product;
  }
}
