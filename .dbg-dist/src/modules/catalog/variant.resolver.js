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
exports.VariantResolver = void 0;
const type_graphql_1 = require("type-graphql");
const auth_1 = require("../../shared/auth");
const types_1 = require("../../shared/types");
const user_entity_1 = require("../identity/user.entity");
const availability_1 = require("../inventory/availability");
const inventory_service_1 = require("../inventory/inventory.service");
const catalog_types_1 = require("./catalog.types");
let VariantResolver = class VariantResolver {
    id(v) {
        return String(v.id);
    }
    price(v, ctx) {
        return types_1.Money.of(v.price, ctx.config.currency);
    }
    availability(v, ctx) {
        return (0, availability_1.availabilityOf)(v, ctx.config.lowStockThreshold);
    }
    product(v, ctx) {
        return ctx.loaders.catalog.product.load(String(v.productId));
    }
    inventory(v, ctx) {
        return (0, auth_1.canManage)(ctx.principal, String(v.merchantId)) ? (0, inventory_service_1.toLevel)(v) : null;
    }
    inventorySet(variantId, onHand, ctx) {
        const p = (0, auth_1.authorize)(ctx.principal, user_entity_1.Role.MERCHANT, user_entity_1.Role.ADMIN);
        return ctx.services.inventory.setOnHand(ctx.em, p, variantId, onHand);
    }
};
exports.VariantResolver = VariantResolver;
__decorate([
    (0, type_graphql_1.FieldResolver)(() => type_graphql_1.ID),
    __param(0, (0, type_graphql_1.Root)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function]),
    __metadata("design:returntype", String)
], VariantResolver.prototype, "id", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => types_1.Money),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", types_1.Money)
], VariantResolver.prototype, "price", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.Availability),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", String)
], VariantResolver.prototype, "availability", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.ProductType),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Promise)
], VariantResolver.prototype, "product", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.InventoryLevel, {
        nullable: true,
        description: "Exact counts: visible to the product's merchant and to admins only (null for others).",
    }),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Object)
], VariantResolver.prototype, "inventory", null);
__decorate([
    (0, type_graphql_1.Mutation)(() => catalog_types_1.InventoryLevel, { description: 'MERCHANT: set the stock on hand of an own variant (ADMIN: any).' }),
    __param(0, (0, type_graphql_1.Arg)('variantId', () => type_graphql_1.ID)),
    __param(1, (0, type_graphql_1.Arg)('onHand', () => type_graphql_1.Int)),
    __param(2, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [String, Number, Object]),
    __metadata("design:returntype", Promise)
], VariantResolver.prototype, "inventorySet", null);
exports.VariantResolver = VariantResolver = __decorate([
    (0, type_graphql_1.Resolver)(() => catalog_types_1.VariantType)
], VariantResolver);
//# sourceMappingURL=variant.resolver.js.map