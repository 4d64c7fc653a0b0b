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
exports.Variant = void 0;
const core_1 = require("@mikro-orm/core");
/** A sellable variant of a product; it also holds the variant's inventory counters. */
let Variant = class Variant {
    [core_1.OptionalProps];
    id;
    productId;
    merchantId;
    sku;
    title;
    attributes = [];
    /** Minor units. */
    price;
    onHand = 0;
    reserved = 0;
    sold = 0;
    createdAt = new Date();
};
exports.Variant = Variant;
__decorate([
    (0, core_1.PrimaryKey)({ type: 'bigint' }),
    __metadata("design:type", String)
], Variant.prototype, "id", void 0);
__decorate([
    (0, core_1.Property)({ type: 'bigint' }),
    __metadata("design:type", String)
], Variant.prototype, "productId", void 0);
__decorate([
    (0, core_1.Property)({ type: 'bigint' }),
    __metadata("design:type", String)
], Variant.prototype, "merchantId", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text' }),
    __metadata("design:type", String)
], Variant.prototype, "sku", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text' }),
    __metadata("design:type", String)
], Variant.prototype, "title", void 0);
__decorate([
    (0, core_1.Property)({ type: 'json' }),
    __metadata("design:type", Array)
], Variant.prototype, "attributes", void 0);
__decorate([
    (0, core_1.Property)({ type: new core_1.BigIntType('number') }),
    __metadata("design:type", Number)
], Variant.prototype, "price", void 0);
__decorate([
    (0, core_1.Property)({ type: 'integer' }),
    __metadata("design:type", Object)
], Variant.prototype, "onHand", void 0);
__decorate([
    (0, core_1.Property)({ type: 'integer' }),
    __metadata("design:type", Object)
], Variant.prototype, "reserved", void 0);
__decorate([
    (0, core_1.Property)({ type: 'integer' }),
    __metadata("design:type", Object)
], Variant.prototype, "sold", void 0);
__decorate([
    (0, core_1.Property)({ type: 'datetime' }),
    __metadata("design:type", Date)
], Variant.prototype, "createdAt", void 0);
exports.Variant = Variant = __decorate([
    (0, core_1.Entity)({ tableName: 'variant' })
], Variant);
//# sourceMappingURL=variant.entity.js.map