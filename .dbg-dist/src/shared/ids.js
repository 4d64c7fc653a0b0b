"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.isId = void 0;
exports.requireId = requireId;
const errors_1 = require("./errors");
/** Ids are decimal 64-bit integers; anything else names nothing. */
const isId = (id) => /^\d{1,19}$/.test(id) && BigInt(id) <= 9223372036854775807n;
exports.isId = isId;
function requireId(id, what) {
    if (!(0, exports.isId)(id))
        throw (0, errors_1.notFound)(what, id.slice(0, 40));
    return id;
}
//# sourceMappingURL=ids.js.map