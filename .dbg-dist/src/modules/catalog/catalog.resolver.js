"use strict";
var __decorate = (this && this.__decorate) || function (decorators, target, key, desc) {
    var c = arguments.length, r = c < 3 ? target : desc === null ? desc = Object.getOwnPropertyDescriptor(target, key) : desc, d;
    if (typeof Reflect === "object" && typeof Reflect.decorate === "function") r = Reflect.decorate(decorators, target, key, desc);
    else for (var i = decorators.length - 1; i >= 0; i--) if (d = decorators[i]) r = (c < 3 ? d(r) : c > 3 ? d(target, key, r) : d(target, key)) || r;
    return c > 3 && r && Object.defineProperty(target, key, r), r;
};
var __metadata = (this && this.__metadata) || function (k, v) {
    if (typeof Reflect === "object" && typeof Reflect.metadata === "function") return Reflect.metadata(k, v);
};
var __param = (this && this.__param) || function (paramIndex, decorator) {
    return function (target, key) { decorator(target, key, paramIndex); }
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.MerchantResolver = exports.CategoryResolver = exports.ProductConnectionResolver = exports.ProductResolver = void 0;
const type_graphql_1 = require("type-graphql");
const auth_1 = require("../../shared/auth");
const types_1 = require("../../shared/types");
const selection_1 = require("../../shared/selection");
const ids_1 = require("../../shared/ids");
const user_entity_1 = require("../identity/user.entity");
const availability_1 = require("../inventory/availability");
const catalog_inputs_1 = require("./catalog.inputs");
const catalog_types_1 = require("./catalog.types");
const catalog_types_2 = require("./catalog.types");
const search_sql_1 = require("./search.sql");
let ProductResolver = class ProductResolver {
    product(id, ctx) {
        return (0, ids_1.isId)(id) ? ctx.loaders.catalog.product.load(id) : null;
    }
    async products(filter, sort, first, after, ctx, info) {
        const order = sort ?? catalog_types_1.ProductSort.RELEVANCE;
        (0, search_sql_1.assertSort)(order);
        const page = await ctx.services.search.search(ctx.em, filter ?? {}, order, first ?? 20, after);
        // Start the count/facet query now, in parallel with the field resolvers of the page.
        if ((0, selection_1.selects)(info, 'totalCount', 'facets'))
            void page.stats().catch(() => undefined);
        return Object.assign(new catalog_types_1.ProductConnection(), {
            edges: page.items.map((i) => ({ cursor: i.cursor, node: i.product })),
            pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.items.at(-1)?.cursor ?? null },
            stats: page.stats,
        });
    }
    productCreate(input, ctx) {
        const p = (0, auth_1.authorizeMerchant)(ctx.principal);
        return ctx.services.catalog.createProduct(ctx.em, p.merchantId, input);
    }
    productUpdate(id, input, ctx) {
        const p = (0, auth_1.authorize)(ctx.principal, user_entity_1.Role.MERCHANT, user_entity_1.Role.ADMIN);
        return ctx.services.catalog.updateProduct(ctx.em, p, id, input);
    }
    merchant(p, ctx) {
        return ctx.loaders.catalog.merchant.load(String(p.merchantId));
    }
    category(p, ctx) {
        return p.categoryId ? ctx.loaders.catalog.category.load(String(p.categoryId)) : null;
    }
    variants(p, ctx) {
        return ctx.loaders.catalog.variantsByProduct.load(String(p.id));
    }
    async priceRange(p, ctx) {
        const prices = (await ctx.loaders.catalog.variantsByProduct.load(String(p.id))).map((v) => v.price);
        const c = ctx.config.currency;
        return { min: types_1.Money.of(prices.length ? Math.min(...prices) : 0, c), max: types_1.Money.of(prices.length ? Math.max(...prices) : 0, c) };
    }
    async availability(p, ctx) {
        const variants = await ctx.loaders.catalog.variantsByProduct.load(String(p.id));
        return (0, availability_1.bestAvailability)(variants.map((v) => (0, availability_1.availabilityOf)(v, ctx.config.lowStockThreshold)));
    }
    id(p) {
        return String(p.id);
    }
};
exports.ProductResolver = ProductResolver;
__decorate([
    (0, type_graphql_1.Query)(() => catalog_types_1.ProductType, { nullable: true }),
    __param(0, (0, type_graphql_1.Arg)('id', () => type_graphql_1.ID)),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [String, Object]),
    __metadata("design:returntype", Object)
], ProductResolver.prototype, "product", null);
__decorate([
    (0, type_graphql_1.Query)(() => catalog_types_1.ProductConnection, { description: 'Catalog search with filters, sorts, keyset pagination and facets.' }),
    __param(0, (0, type_graphql_1.Arg)('filter', () => catalog_inputs_1.ProductFilter, { nullable: true })),
    __param(1, (0, type_graphql_1.Arg)('sort', () => catalog_types_1.ProductSort, { nullable: true, defaultValue: catalog_types_1.ProductSort.RELEVANCE })),
    __param(2, (0, type_graphql_1.Arg)('first', () => type_graphql_1.Int, { nullable: true, defaultValue: 20 })),
    __param(3, (0, type_graphql_1.Arg)('after', () => String, { nullable: true })),
    __param(4, (0, type_graphql_1.Ctx)()),
    __param(5, (0, type_graphql_1.Info)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Object, Object, Object, Object, Object, Object]),
    __metadata("design:returntype", Promise)
], ProductResolver.prototype, "products", null);
__decorate([
    (0, type_graphql_1.Mutation)(() => catalog_types_1.ProductType, { description: 'MERCHANT: creates a product of the signed-in merchant.' }),
    __param(0, (0, type_graphql_1.Arg)('input', () => catalog_inputs_1.ProductCreateInput)),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [catalog_inputs_1.ProductCreateInput, Object]),
    __metadata("design:returntype", Promise)
], ProductResolver.prototype, "productCreate", null);
__decorate([
    (0, type_graphql_1.Mutation)(() => catalog_types_1.ProductType, { description: 'MERCHANT: own products only (ADMIN: any).' }),
    __param(0, (0, type_graphql_1.Arg)('id', () => type_graphql_1.ID)),
    __param(1, (0, type_graphql_1.Arg)('input', () => catalog_inputs_1.ProductUpdateInput)),
    __param(2, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [String, catalog_inputs_1.ProductUpdateInput, Object]),
    __metadata("design:returntype", Promise)
], ProductResolver.prototype, "productUpdate", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.MerchantType),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Promise)
], ProductResolver.prototype, "merchant", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.CategoryType, { nullable: true }),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Object)
], ProductResolver.prototype, "category", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => [catalog_types_2.VariantType]),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Promise)
], ProductResolver.prototype, "variants", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.PriceRange),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Promise)
], ProductResolver.prototype, "priceRange", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.Availability, { description: 'The best availability among the variants.' }),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Promise)
], ProductResolver.prototype, "availability", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => type_graphql_1.ID),
    __param(0, (0, type_graphql_1.Root)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function]),
    __metadata("design:returntype", String)
], ProductResolver.prototype, "id", null);
exports.ProductResolver = ProductResolver = __decorate([
    (0, type_graphql_1.Resolver)(() => catalog_types_1.ProductType)
], ProductResolver);
let ProductConnectionResolver = class ProductConnectionResolver {
    async totalCount(c) {
        return (await c.stats()).totalCount;
    }
    async facets(c) {
        return (await c.stats()).facets;
    }
};
exports.ProductConnectionResolver = ProductConnectionResolver;
__decorate([
    (0, type_graphql_1.FieldResolver)(() => type_graphql_1.Int, { description: 'Products matching the filter, over all pages.' }),
    __param(0, (0, type_graphql_1.Root)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [catalog_types_1.ProductConnection]),
    __metadata("design:returntype", Promise)
], ProductConnectionResolver.prototype, "totalCount", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => [catalog_types_1.Facet]),
    __param(0, (0, type_graphql_1.Root)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [catalog_types_1.ProductConnection]),
    __metadata("design:returntype", Promise)
], ProductConnectionResolver.prototype, "facets", null);
exports.ProductConnectionResolver = ProductConnectionResolver = __decorate([
    (0, type_graphql_1.Resolver)(() => catalog_types_1.ProductConnection)
], ProductConnectionResolver);
let CategoryResolver = class CategoryResolver {
    categories(ctx) {
        return ctx.services.catalog.categories(ctx.em);
    }
    categoryCreate(input, ctx) {
        (0, auth_1.authorize)(ctx.principal, user_entity_1.Role.ADMIN);
        return ctx.services.catalog.createCategory(ctx.em, input);
    }
    parent(c, ctx) {
        return c.parentId ? ctx.loaders.catalog.category.load(String(c.parentId)) : null;
    }
    id(c) {
        return String(c.id);
    }
};
exports.CategoryResolver = CategoryResolver;
__decorate([
    (0, type_graphql_1.Query)(() => [catalog_types_1.CategoryType], { description: 'The whole category tree, parents before children.' }),
    __param(0, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Object]),
    __metadata("design:returntype", Promise)
], CategoryResolver.prototype, "categories", null);
__decorate([
    (0, type_graphql_1.Mutation)(() => catalog_types_1.CategoryType, { description: 'ADMIN.' }),
    __param(0, (0, type_graphql_1.Arg)('input', () => catalog_inputs_1.CategoryCreateInput)),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [catalog_inputs_1.CategoryCreateInput, Object]),
    __metadata("design:returntype", Promise)
], CategoryResolver.prototype, "categoryCreate", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.CategoryType, { nullable: true }),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Object)
], CategoryResolver.prototype, "parent", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => type_graphql_1.ID),
    __param(0, (0, type_graphql_1.Root)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function]),
    __metadata("design:returntype", String)
], CategoryResolver.prototype, "id", null);
exports.CategoryResolver = CategoryResolver = __decorate([
    (0, type_graphql_1.Resolver)(() => catalog_types_1.CategoryType)
], CategoryResolver);
let MerchantResolver = class MerchantResolver {
    id(m) {
        return String(m.id);
    }
};
exports.MerchantResolver = MerchantResolver;
__decorate([
    (0, type_graphql_1.FieldResolver)(() => type_graphql_1.ID),
    __param(0, (0, type_graphql_1.Root)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function]),
    __metadata("design:returntype", String)
], MerchantResolver.prototype, "id", null);
exports.MerchantResolver = MerchantResolver = __decorate([
    (0, type_graphql_1.Resolver)(() => catalog_types_1.MerchantType)
], MerchantResolver);
//# sourceMappingURL=catalog.resolver.js.map