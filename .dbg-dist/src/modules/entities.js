"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.entities = void 0;
const category_entity_1 = require("./catalog/category.entity");
const merchant_entity_1 = require("./catalog/merchant.entity");
const product_entity_1 = require("./catalog/product.entity");
const variant_entity_1 = require("./catalog/variant.entity");
const user_entity_1 = require("./identity/user.entity");
/** Every MikroORM entity, registered explicitly (no folder scanning). */
exports.entities = [user_entity_1.User, merchant_entity_1.Merchant, category_entity_1.Category, product_entity_1.Product, variant_entity_1.Variant];
//# sourceMappingURL=entities.js.map