"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.catalogLoaders = catalogLoaders;
const dataloader_1 = __importDefault(require("dataloader"));
const category_entity_1 = require("./category.entity");
const merchant_entity_1 = require("./merchant.entity");
const product_entity_1 = require("./product.entity");
const variant_entity_1 = require("./variant.entity");
/** Request-scoped batch loaders: one statement per kind per tick, whatever the page size. */
function catalogLoaders(em) {
    const byId = (entity) => new dataloader_1.default(async (ids) => {
        const rows = (await em.find(entity, { id: { $in: [...ids] } }));
        const map = new Map(rows.map((r) => [String(r.id), r]));
        return ids.map((id) => map.get(id) ?? null);
    });
    return {
        merchant: byId(merchant_entity_1.Merchant),
        category: byId(category_entity_1.Category),
        product: byId(product_entity_1.Product),
        variant: byId(variant_entity_1.Variant),
        variantsByProduct: new dataloader_1.default(async (productIds) => {
            const rows = await em.find(variant_entity_1.Variant, { productId: { $in: [...productIds] } }, { orderBy: { id: 'asc' } });
            const grouped = new Map(productIds.map((id) => [id, []]));
            for (const v of rows)
                grouped.get(String(v.productId))?.push(v);
            return productIds.map((id) => grouped.get(id));
        }),
    };
}
//# sourceMappingURL=catalog.loaders.js.map