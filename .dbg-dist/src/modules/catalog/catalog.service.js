"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.CatalogService = void 0;
const core_1 = require("@mikro-orm/core");
const errors_1 = require("../../shared/errors");
const money_1 = require("../../shared/money");
const ids_1 = require("../../shared/ids");
const auth_1 = require("../../shared/auth");
const category_entity_1 = require("./category.entity");
const merchant_entity_1 = require("./merchant.entity");
const product_entity_1 = require("./product.entity");
const variant_entity_1 = require("./variant.entity");
const uniq = (xs) => [...new Set((xs ?? []).map((x) => x.trim()).filter(Boolean))];
class CatalogService {
    onProductsChanged;
    /** `onProductsChanged` runs after every committed product write (the search cache listens). */
    constructor(onProductsChanged = () => undefined) {
        this.onProductsChanged = onProductsChanged;
    }
    categories(em) {
        return em.find(category_entity_1.Category, {}, { orderBy: { id: 'asc' } });
    }
    async createCategory(em, input) {
        if (input.parentId && (!(0, ids_1.isId)(input.parentId) || !(await em.findOne(category_entity_1.Category, { id: input.parentId })))) {
            throw (0, errors_1.notFound)('Category', input.parentId);
        }
        const category = em.create(category_entity_1.Category, { name: input.name.trim(), slug: input.slug, parentId: input.parentId ?? null });
        try {
            await em.flush();
        }
        catch (e) {
            if (e instanceof core_1.UniqueConstraintViolationException)
                throw (0, errors_1.badInput)(`Slug "${input.slug}" is taken`, 'slug');
            throw e;
        }
        return category;
    }
    async createMerchant(em, name) {
        const merchant = em.create(merchant_entity_1.Merchant, { name: name.trim() });
        await em.flush();
        return merchant;
    }
    /** Product and variants in one transaction; the search data follows through triggers. */
    async createProduct(em, merchantId, input) {
        if (input.categoryId && (!(0, ids_1.isId)(input.categoryId) || !(await em.findOne(category_entity_1.Category, { id: input.categoryId })))) {
            throw (0, errors_1.notFound)('Category', input.categoryId);
        }
        const skus = input.variants.map((v) => v.sku);
        const dup = skus.find((s, i) => skus.indexOf(s) !== i);
        if (dup)
            throw (0, errors_1.badInput)(`SKU ${dup} appears twice`, 'variants.sku');
        const prices = input.variants.map((v, i) => (0, money_1.parseMoney)(v.price, `variants[${i}].price`));
        const created = await em.transactional(async (tx) => {
            const product = tx.create(product_entity_1.Product, {
                merchantId,
                categoryId: input.categoryId ?? null,
                title: input.title.trim(),
                description: input.description,
                collections: uniq(input.collections),
                images: input.images ?? [],
                stockPolicy: input.stockPolicy ?? product_entity_1.StockPolicy.RESERVE_ON_ORDER,
            });
            await tx.flush();
            input.variants.forEach((v, i) => tx.create(variant_entity_1.Variant, {
                productId: product.id,
                merchantId,
                sku: v.sku,
                title: v.title.trim(),
                attributes: v.attributes.map((a) => ({ name: a.name.trim(), value: a.value.trim() })),
                price: prices[i],
                onHand: v.onHand,
            }));
            try {
                await tx.flush();
            }
            catch (e) {
                if (e instanceof core_1.UniqueConstraintViolationException) {
                    throw (0, errors_1.badInput)('A variant SKU is already used by another product of this merchant', 'variants.sku');
                }
                throw e;
            }
            return product;
        });
        this.onProductsChanged();
        return created;
    }
    /** Another merchant's product reads as not found. */
    async updateProduct(em, principal, id, input) {
        const product = await em.findOne(product_entity_1.Product, { id: (0, ids_1.requireId)(id, 'Product') });
        if (!product || !(0, auth_1.canManage)(principal, String(product.merchantId)))
            throw (0, errors_1.notFound)('Product', id);
        if (input.categoryId && (!(0, ids_1.isId)(input.categoryId) || !(await em.findOne(category_entity_1.Category, { id: input.categoryId })))) {
            throw (0, errors_1.notFound)('Category', input.categoryId);
        }
        if (input.title != null)
            product.title = input.title.trim();
        if (input.description != null)
            product.description = input.description;
        if (input.categoryId !== undefined)
            product.categoryId = input.categoryId;
        if (input.collections != null)
            product.collections = uniq(input.collections);
        if (input.images != null)
            product.images = input.images;
        if (input.stockPolicy != null)
            product.stockPolicy = input.stockPolicy;
        await em.flush();
        this.onProductsChanged();
        return product;
    }
}
exports.CatalogService = CatalogService;
//# sourceMappingURL=catalog.service.js.map