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
Object.defineProperty(exports, "__esModule", { value: true });
exports.Product = exports.StockPolicy = void 0;
const core_1 = require("@mikro-orm/core");
var StockPolicy;
(function (StockPolicy) {
    StockPolicy["RESERVE_ON_ORDER"] = "RESERVE_ON_ORDER";
    StockPolicy["DEDUCT_ON_ORDER"] = "DEDUCT_ON_ORDER";
    StockPolicy["DEDUCT_ON_PAYMENT"] = "DEDUCT_ON_PAYMENT";
})(StockPolicy || (exports.StockPolicy = StockPolicy = {}));
/**
 * Search columns (search, attrs, price_min, price_max, in_stock, sold_total, category_path) exist on
 * the table but are maintained by PostgreSQL triggers; the entity never reads or writes them.
 */
let Product = class Product {
    [core_1.OptionalProps];
    id;
    merchantId;
    categoryId;
    title;
    description;
    collections = [];
    images = [];
    stockPolicy = StockPolicy.RESERVE_ON_ORDER;
    createdAt = new Date();
    updatedAt = new Date();
};
exports.Product = Product;
__decorate([
    (0, core_1.PrimaryKey)({ type: 'bigint' }),
    __metadata("design:type", String)
], Product.prototype, "id", void 0);
__decorate([
    (0, core_1.Property)({ type: 'bigint' }),
    __metadata("design:type", String)
], Product.prototype, "merchantId", void 0);
__decorate([
    (0, core_1.Property)({ type: 'bigint', nullable: true }),
    __metadata("design:type", Object)
], Product.prototype, "categoryId", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text' }),
    __metadata("design:type", String)
], Product.prototype, "title", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text' }),
    __metadata("design:type", String)
], Product.prototype, "description", void 0);
__decorate([
    (0, core_1.Property)({ type: core_1.ArrayType }),
    __metadata("design:type", Array)
], Product.prototype, "collections", void 0);
__decorate([
    (0, core_1.Property)({ type: core_1.ArrayType }),
    __metadata("design:type", Array)
], Product.prototype, "images", void 0);
__decorate([
    (0, core_1.Enum)({ items: () => StockPolicy }),
    __metadata("design:type", String)
], Product.prototype, "stockPolicy", void 0);
__decorate([
    (0, core_1.Property)({ type: 'datetime' }),
    __metadata("design:type", Date)
], Product.prototype, "createdAt", void 0);
__decorate([
    (0, core_1.Property)({ type: 'datetime', onUpdate: () => new Date() }),
    __metadata("design:type", Date)
], Product.prototype, "updatedAt", void 0);
exports.Product = Product = __decorate([
    (0, core_1.Entity)({ tableName: 'product' })
], Product);
//# sourceMappingURL=product.entity.js.map