"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.InventoryService = exports.toLevel = void 0;
const sql_1 = require("../../db/sql");
const errors_1 = require("../../shared/errors");
const auth_1 = require("../../shared/auth");
const ids_1 = require("../../shared/ids");
const availability_1 = require("./availability");
const toLevel = (s) => ({
    onHand: s.onHand,
    reserved: s.reserved,
    sold: s.sold,
    available: (0, availability_1.available)(s),
});
exports.toLevel = toLevel;
class InventoryService {
    onStockChanged;
    /** Runs after every committed stock change (the search cache listens). */
    constructor(onStockChanged = () => undefined) {
        this.onStockChanged = onStockChanged;
    }
    /**
     * Sets a variant's stock on hand in one conditional statement, so it cannot race a checkout into
     * a negative `available`: it fails when the new count is below what is reserved plus sold.
     */
    async setOnHand(em, principal, variantId, onHand) {
        if (!Number.isInteger(onHand) || onHand < 0 || onHand > 1_000_000_000) {
            throw (0, errors_1.badInput)('onHand must be an integer between 0 and 1000000000', 'onHand');
        }
        (0, ids_1.requireId)(variantId, 'Variant');
        const [variant] = await (0, sql_1.sqlAll)(em, 'select merchant_id from variant where id = $1', [variantId]);
        // Another merchant's variant reads as not found.
        if (!variant || !(0, auth_1.canManage)(principal, String(variant.merchant_id)))
            throw (0, errors_1.notFound)('Variant', variantId);
        const rows = await (0, sql_1.sqlAll)(em, `update variant set on_hand = $1 where id = $2 and $1 >= reserved + sold
       returning on_hand, reserved, sold`, [onHand, variantId]);
        if (rows.length === 0) {
            const [cur] = await (0, sql_1.sqlAll)(em, 'select reserved, sold from variant where id = $1', [variantId]);
            throw (0, errors_1.badInput)(`onHand cannot be below reserved plus sold (${cur.reserved + cur.sold})`, 'onHand');
        }
        this.onStockChanged();
        const r = rows[0];
        return (0, exports.toLevel)({ onHand: r.on_hand, reserved: r.reserved, sold: r.sold });
    }
}
exports.InventoryService = InventoryService;
//# sourceMappingURL=inventory.service.js.map