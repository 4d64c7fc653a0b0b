"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.available = void 0;
exports.availabilityOf = availabilityOf;
exports.bestAvailability = bestAvailability;
const catalog_types_1 = require("../catalog/catalog.types");
const available = (s) => Math.max(0, s.onHand - s.reserved - s.sold);
exports.available = available;
/** LOW_STOCK at or below the threshold (LOW_STOCK_THRESHOLD), OUT_OF_STOCK at zero. */
function availabilityOf(s, lowStockThreshold) {
    const n = (0, exports.available)(s);
    if (n <= 0)
        return catalog_types_1.Availability.OUT_OF_STOCK;
    return n <= lowStockThreshold ? catalog_types_1.Availability.LOW_STOCK : catalog_types_1.Availability.IN_STOCK;
}
/** A product is as available as its best variant. */
function bestAvailability(levels) {
    if (levels.includes(catalog_types_1.Availability.IN_STOCK))
        return catalog_types_1.Availability.IN_STOCK;
    if (levels.includes(catalog_types_1.Availability.LOW_STOCK))
        return catalog_types_1.Availability.LOW_STOCK;
    return catalog_types_1.Availability.OUT_OF_STOCK;
}
//# sourceMappingURL=availability.js.map