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
exports.ProductFilter = exports.AttributeFilter = exports.CategoryCreateInput = exports.ProductUpdateInput = exports.ProductCreateInput = exports.VariantInput = exports.AttributeInput = void 0;
const class_validator_1 = require("class-validator");
const type_graphql_1 = require("type-graphql");
const product_entity_1 = require("./product.entity");
const MONEY = /^\d{1,12}(\.\d{1,2})?$/;
const MONEY_MSG = 'must be a non-negative amount such as "19.99"';
const ID_PATTERN = /^\d{1,19}$/;
/** Attribute names are short identifiers; '=' is reserved as the name/value separator in search. */
const ATTR_NAME = /^[^=]{1,40}$/;
let AttributeInput = class AttributeInput {
    name;
    value;
};
exports.AttributeInput = AttributeInput;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Matches)(ATTR_NAME, { message: 'attribute name must be 1-40 characters without "="' }),
    __metadata("design:type", String)
], AttributeInput.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(1, 100),
    __metadata("design:type", String)
], AttributeInput.prototype, "value", void 0);
exports.AttributeInput = AttributeInput = __decorate([
    (0, type_graphql_1.InputType)()
], AttributeInput);
let VariantInput = class VariantInput {
    sku;
    title;
    price;
    attributes;
    onHand;
};
exports.VariantInput = VariantInput;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Matches)(/^[A-Za-z0-9._\-/]{1,64}$/, { message: 'sku must be 1-64 letters, digits or ._-/' }),
    __metadata("design:type", String)
], VariantInput.prototype, "sku", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(1, 200),
    __metadata("design:type", String)
], VariantInput.prototype, "title", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { description: 'Decimal amount, e.g. "19.99".' }),
    (0, class_validator_1.Matches)(MONEY, { message: `price ${MONEY_MSG}` }),
    __metadata("design:type", String)
], VariantInput.prototype, "price", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [AttributeInput]),
    (0, class_validator_1.ArrayMaxSize)(20),
    (0, class_validator_1.ValidateNested)({ each: true }),
    __metadata("design:type", Array)
], VariantInput.prototype, "attributes", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.Int),
    (0, class_validator_1.Min)(0),
    (0, class_validator_1.Max)(1_000_000_000),
    __metadata("design:type", Number)
], VariantInput.prototype, "onHand", void 0);
exports.VariantInput = VariantInput = __decorate([
    (0, type_graphql_1.InputType)()
], VariantInput);
let ProductCreateInput = class ProductCreateInput {
    title;
    description;
    categoryId;
    collections;
    images;
    stockPolicy;
    variants;
};
exports.ProductCreateInput = ProductCreateInput;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(1, 200),
    __metadata("design:type", String)
], ProductCreateInput.prototype, "title", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.MaxLength)(10_000),
    __metadata("design:type", String)
], ProductCreateInput.prototype, "description", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Matches)(ID_PATTERN, { message: 'categoryId is not a valid id' }),
    __metadata("design:type", Object)
], ProductCreateInput.prototype, "categoryId", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [String], { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.ArrayMaxSize)(20),
    (0, class_validator_1.Length)(1, 60, { each: true }),
    __metadata("design:type", Object)
], ProductCreateInput.prototype, "collections", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [String], { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.ArrayMaxSize)(20),
    (0, class_validator_1.IsUrl)({ require_protocol: true, protocols: ['http', 'https'] }, { each: true, message: 'images must be http(s) URLs' }),
    (0, class_validator_1.MaxLength)(2000, { each: true }),
    __metadata("design:type", Object)
], ProductCreateInput.prototype, "images", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => product_entity_1.StockPolicy, { nullable: true, defaultValue: product_entity_1.StockPolicy.RESERVE_ON_ORDER }),
    (0, class_validator_1.IsOptional)(),
    __metadata("design:type", Object)
], ProductCreateInput.prototype, "stockPolicy", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [VariantInput]),
    (0, class_validator_1.ArrayMinSize)(1),
    (0, class_validator_1.ArrayMaxSize)(100),
    (0, class_validator_1.ValidateNested)({ each: true }),
    __metadata("design:type", Array)
], ProductCreateInput.prototype, "variants", void 0);
exports.ProductCreateInput = ProductCreateInput = __decorate([
    (0, type_graphql_1.InputType)()
], ProductCreateInput);
let ProductUpdateInput = class ProductUpdateInput {
    title;
    description;
    categoryId;
    collections;
    images;
    stockPolicy;
};
exports.ProductUpdateInput = ProductUpdateInput;
__decorate([
    (0, type_graphql_1.Field)(() => String, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Length)(1, 200),
    __metadata("design:type", Object)
], ProductUpdateInput.prototype, "title", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.MaxLength)(10_000),
    __metadata("design:type", Object)
], ProductUpdateInput.prototype, "description", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Matches)(ID_PATTERN, { message: 'categoryId is not a valid id' }),
    __metadata("design:type", Object)
], ProductUpdateInput.prototype, "categoryId", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [String], { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.ArrayMaxSize)(20),
    (0, class_validator_1.Length)(1, 60, { each: true }),
    __metadata("design:type", Object)
], ProductUpdateInput.prototype, "collections", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [String], { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.ArrayMaxSize)(20),
    (0, class_validator_1.IsUrl)({ require_protocol: true, protocols: ['http', 'https'] }, { each: true, message: 'images must be http(s) URLs' }),
    (0, class_validator_1.MaxLength)(2000, { each: true }),
    __metadata("design:type", Object)
], ProductUpdateInput.prototype, "images", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => product_entity_1.StockPolicy, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    __metadata("design:type", Object)
], ProductUpdateInput.prototype, "stockPolicy", void 0);
exports.ProductUpdateInput = ProductUpdateInput = __decorate([
    (0, type_graphql_1.InputType)()
], ProductUpdateInput);
let CategoryCreateInput = class CategoryCreateInput {
    name;
    slug;
    parentId;
};
exports.CategoryCreateInput = CategoryCreateInput;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(1, 100),
    __metadata("design:type", String)
], CategoryCreateInput.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Matches)(/^[a-z0-9]+(-[a-z0-9]+)*$/, { message: 'slug must be lowercase words joined by "-"' }),
    (0, class_validator_1.MaxLength)(100),
    __metadata("design:type", String)
], CategoryCreateInput.prototype, "slug", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Matches)(ID_PATTERN, { message: 'parentId is not a valid id' }),
    __metadata("design:type", Object)
], CategoryCreateInput.prototype, "parentId", void 0);
exports.CategoryCreateInput = CategoryCreateInput = __decorate([
    (0, type_graphql_1.InputType)()
], CategoryCreateInput);
let AttributeFilter = class AttributeFilter {
    name;
    values;
};
exports.AttributeFilter = AttributeFilter;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Matches)(ATTR_NAME, { message: 'attribute name must be 1-40 characters without "="' }),
    __metadata("design:type", String)
], AttributeFilter.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [String]),
    (0, class_validator_1.ArrayMinSize)(1),
    (0, class_validator_1.ArrayMaxSize)(50),
    (0, class_validator_1.Length)(1, 100, { each: true }),
    __metadata("design:type", Array)
], AttributeFilter.prototype, "values", void 0);
exports.AttributeFilter = AttributeFilter = __decorate([
    (0, type_graphql_1.InputType)()
], AttributeFilter);
let ProductFilter = class ProductFilter {
    query;
    categoryId;
    collection;
    merchantId;
    priceMin;
    priceMax;
    attributes;
    inStockOnly;
};
exports.ProductFilter = ProductFilter;
__decorate([
    (0, type_graphql_1.Field)(() => String, {
        nullable: true,
        description: 'Full-text query over title, description and attribute values; the last word matches as a prefix.',
    }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.MaxLength)(200),
    __metadata("design:type", Object)
], ProductFilter.prototype, "query", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID, { nullable: true, description: 'This category and its descendants.' }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Matches)(ID_PATTERN, { message: 'categoryId is not a valid id' }),
    __metadata("design:type", Object)
], ProductFilter.prototype, "categoryId", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Length)(1, 60),
    __metadata("design:type", Object)
], ProductFilter.prototype, "collection", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Matches)(ID_PATTERN, { message: 'merchantId is not a valid id' }),
    __metadata("design:type", Object)
], ProductFilter.prototype, "merchantId", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { nullable: true, description: 'Products with a variant at or above this price.' }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Matches)(MONEY, { message: `priceMin ${MONEY_MSG}` }),
    __metadata("design:type", Object)
], ProductFilter.prototype, "priceMin", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { nullable: true, description: 'Products with a variant at or below this price.' }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.Matches)(MONEY, { message: `priceMax ${MONEY_MSG}` }),
    __metadata("design:type", Object)
], ProductFilter.prototype, "priceMax", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [AttributeFilter], { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    (0, class_validator_1.ArrayMaxSize)(10),
    (0, class_validator_1.ValidateNested)({ each: true }),
    __metadata("design:type", Object)
], ProductFilter.prototype, "attributes", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => Boolean, { nullable: true }),
    (0, class_validator_1.IsOptional)(),
    __metadata("design:type", Object)
], ProductFilter.prototype, "inStockOnly", void 0);
exports.ProductFilter = ProductFilter = __decorate([
    (0, type_graphql_1.InputType)({ description: 'Filters combine with AND; values of one attribute combine with OR.' })
], ProductFilter);
//# sourceMappingURL=catalog.inputs.js.map