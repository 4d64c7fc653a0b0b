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
exports.ProductConnection = exports.ProductEdge = exports.Facet = exports.FacetValue = exports.ProductType = exports.PriceRange = exports.VariantType = exports.InventoryLevel = exports.Attribute = exports.CategoryType = exports.MerchantType = exports.ProductSort = exports.Availability = void 0;
const type_graphql_1 = require("type-graphql");
const graphql_scalars_1 = require("graphql-scalars");
const types_1 = require("../../shared/types");
const types_2 = require("../../shared/types");
const product_entity_1 = require("./product.entity");
(0, type_graphql_1.registerEnumType)(product_entity_1.StockPolicy, {
    name: 'StockPolicy',
    description: "How a product's stock is taken: held for the payment window, taken at once, or taken only when payment succeeds.",
});
var Availability;
(function (Availability) {
    Availability["IN_STOCK"] = "IN_STOCK";
    Availability["LOW_STOCK"] = "LOW_STOCK";
    Availability["OUT_OF_STOCK"] = "OUT_OF_STOCK";
})(Availability || (exports.Availability = Availability = {}));
(0, type_graphql_1.registerEnumType)(Availability, { name: 'Availability', description: 'Stock as shoppers see it.' });
var ProductSort;
(function (ProductSort) {
    ProductSort["RELEVANCE"] = "RELEVANCE";
    ProductSort["PRICE_ASC"] = "PRICE_ASC";
    ProductSort["PRICE_DESC"] = "PRICE_DESC";
    ProductSort["NEWEST"] = "NEWEST";
    ProductSort["BEST_SELLING"] = "BEST_SELLING";
})(ProductSort || (exports.ProductSort = ProductSort = {}));
(0, type_graphql_1.registerEnumType)(ProductSort, {
    name: 'ProductSort',
    description: 'RELEVANCE ranks full-text matches (NEWEST without a query); prices sort by the lowest variant price.',
});
let MerchantType = class MerchantType {
    id;
    name;
};
exports.MerchantType = MerchantType;
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID),
    __metadata("design:type", String)
], MerchantType.prototype, "id", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], MerchantType.prototype, "name", void 0);
exports.MerchantType = MerchantType = __decorate([
    (0, type_graphql_1.ObjectType)('Merchant', { description: 'A shop on the marketplace.' })
], MerchantType);
let CategoryType = class CategoryType {
    id;
    name;
    slug;
    parentId;
};
exports.CategoryType = CategoryType;
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID),
    __metadata("design:type", String)
], CategoryType.prototype, "id", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], CategoryType.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], CategoryType.prototype, "slug", void 0);
exports.CategoryType = CategoryType = __decorate([
    (0, type_graphql_1.ObjectType)('Category', { description: 'A node of the category tree.' })
], CategoryType);
let Attribute = class Attribute {
    name;
    value;
};
exports.Attribute = Attribute;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], Attribute.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], Attribute.prototype, "value", void 0);
exports.Attribute = Attribute = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'A variant attribute such as color or size.' })
], Attribute);
let InventoryLevel = class InventoryLevel {
    onHand;
    reserved;
    available;
    sold;
};
exports.InventoryLevel = InventoryLevel;
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.Int, { description: 'Units stocked, including those reserved and sold.' }),
    __metadata("design:type", Number)
], InventoryLevel.prototype, "onHand", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.Int, { description: 'Units held by unpaid orders.' }),
    __metadata("design:type", Number)
], InventoryLevel.prototype, "reserved", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.Int, { description: 'onHand - reserved - sold; never negative.' }),
    __metadata("design:type", Number)
], InventoryLevel.prototype, "available", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.Int, { description: 'Units sold.' }),
    __metadata("design:type", Number)
], InventoryLevel.prototype, "sold", void 0);
exports.InventoryLevel = InventoryLevel = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'Exact stock counts of a variant.' })
], InventoryLevel);
let VariantType = class VariantType {
    id;
    sku;
    title;
    attributes;
};
exports.VariantType = VariantType;
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID),
    __metadata("design:type", String)
], VariantType.prototype, "id", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], VariantType.prototype, "sku", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], VariantType.prototype, "title", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [Attribute]),
    __metadata("design:type", Array)
], VariantType.prototype, "attributes", void 0);
exports.VariantType = VariantType = __decorate([
    (0, type_graphql_1.ObjectType)('Variant', { description: 'A sellable variant of a product.' })
], VariantType);
let PriceRange = class PriceRange {
    min;
    max;
};
exports.PriceRange = PriceRange;
__decorate([
    (0, type_graphql_1.Field)(() => types_1.Money),
    __metadata("design:type", types_1.Money)
], PriceRange.prototype, "min", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => types_1.Money),
    __metadata("design:type", types_1.Money)
], PriceRange.prototype, "max", void 0);
exports.PriceRange = PriceRange = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'Lowest and highest variant price.' })
], PriceRange);
let ProductType = class ProductType {
    id;
    title;
    description;
    collections;
    images;
    stockPolicy;
    createdAt;
};
exports.ProductType = ProductType;
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID),
    __metadata("design:type", String)
], ProductType.prototype, "id", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], ProductType.prototype, "title", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], ProductType.prototype, "description", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [String], { description: 'Virtual categories (tags) such as a sale event.' }),
    __metadata("design:type", Array)
], ProductType.prototype, "collections", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [String]),
    __metadata("design:type", Array)
], ProductType.prototype, "images", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => product_entity_1.StockPolicy),
    __metadata("design:type", String)
], ProductType.prototype, "stockPolicy", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => graphql_scalars_1.GraphQLDateTime),
    __metadata("design:type", Date)
], ProductType.prototype, "createdAt", void 0);
exports.ProductType = ProductType = __decorate([
    (0, type_graphql_1.ObjectType)('Product', { description: 'A product with its variants.' })
], ProductType);
let FacetValue = class FacetValue {
    value;
    count;
};
exports.FacetValue = FacetValue;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], FacetValue.prototype, "value", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.Int),
    __metadata("design:type", Number)
], FacetValue.prototype, "count", void 0);
exports.FacetValue = FacetValue = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'One value of a facet and how many products of the filtered result have it.' })
], FacetValue);
let Facet = class Facet {
    name;
    values;
};
exports.Facet = Facet;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], Facet.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [FacetValue]),
    __metadata("design:type", Array)
], Facet.prototype, "values", void 0);
exports.Facet = Facet = __decorate([
    (0, type_graphql_1.ObjectType)({
        description: 'Counts over the whole filtered result, for category (value: category id), price band (value: "25-50" in major units, by lowest price) and each attribute name. The facet of an attribute being filtered on ignores its own filter, so a shopper can widen it.',
    })
], Facet);
let ProductEdge = class ProductEdge {
    cursor;
    node;
};
exports.ProductEdge = ProductEdge;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], ProductEdge.prototype, "cursor", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => ProductType),
    __metadata("design:type", Object)
], ProductEdge.prototype, "node", void 0);
exports.ProductEdge = ProductEdge = __decorate([
    (0, type_graphql_1.ObjectType)()
], ProductEdge);
let ProductConnection = class ProductConnection {
    edges;
    pageInfo;
    /** Runs the count and facet query once, when totalCount or facets is selected. */
    stats;
};
exports.ProductConnection = ProductConnection;
__decorate([
    (0, type_graphql_1.Field)(() => [ProductEdge]),
    __metadata("design:type", Array)
], ProductConnection.prototype, "edges", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => types_2.PageInfo),
    __metadata("design:type", types_2.PageInfo)
], ProductConnection.prototype, "pageInfo", void 0);
exports.ProductConnection = ProductConnection = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'A page of products; totalCount and facets are computed only when selected.' })
], ProductConnection);
//# sourceMappingURL=catalog.types.js.map