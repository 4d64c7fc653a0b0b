import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, notFound } from '../../shared/errors';
import { parseMoney } from '../../shared/money';
import { isId, requireId } from '../../shared/ids';
import { canManage, type Principal } from '../../shared/auth';
import type { CategoryCreateInput, ProductCreateInput, ProductUpdateInput } from './catalog.inputs';
import { Category } from './category.entity';
import { Merchant } from './merchant.entity';
import { Product, StockPolicy } from './product.entity';
import { Variant } from './variant.entity';

const uniq = (xs: string[] | null | undefined) => [
  ...new Set((xs ?? []).map((x) => x.trim()).filter(Boolean)),
];

export class CatalogService {
  /** `onProductsChanged` runs after every committed product write (the search cache listens). */
  constructor(private readonly onProductsChanged: () => void = () => undefined) {}

  categories(em: EntityManager): Promise<Category[]> {
    return em.find(Category, {}, { orderBy: { id: 'asc' } });
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
    const created = await em.transactional(async (tx) => {
      const product = tx.create(Product, {
        merchantId,
        categoryId: input.categoryId ?? null,
        title: input.title.trim(),
        description: input.description,
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
          throw badInput('A variant SKU is already used by another product of this merchant', 'variants.sku');
        }
        throw e;
      }
      return product;
    });
    this.onProductsChanged();
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
    if (input.title != null) product.title = input.title.trim();
    if (input.description != null) product.description = input.description;
    if (input.categoryId !== undefined) product.categoryId = input.categoryId;
    if (input.collections != null) product.collections = uniq(input.collections);
    if (input.images != null) product.images = input.images;
    if (input.stockPolicy != null) product.stockPolicy = input.stockPolicy;
    await em.flush();
    this.onProductsChanged();
    return product;
  }
}
