"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.encodeCursor = encodeCursor;
exports.decodeCursor = decodeCursor;
exports.checkPageSize = checkPageSize;
const errors_1 = require("./errors");
/** Cursors are opaque to clients: base64url of a JSON array of the keyset values. */
function encodeCursor(values) {
    return Buffer.from(JSON.stringify(values)).toString('base64url');
}
function decodeCursor(cursor, shape) {
    const fail = () => (0, errors_1.badInput)('Malformed cursor', 'after');
    if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor))
        throw fail();
    let values;
    try {
        values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    }
    catch {
        throw fail();
    }
    if (!Array.isArray(values) || values.length !== shape.length)
        throw fail();
    values.forEach((v, i) => {
        if (typeof v !== shape[i])
            throw fail();
        if (typeof v === 'string' && !/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(v))
            throw fail();
    });
    return values;
}
function checkPageSize(first, max) {
    if (!Number.isInteger(first) || first < 0 || first > max) {
        throw (0, errors_1.badInput)(`first must be between 0 and ${max}`, 'first');
    }
    return first;
}
//# sourceMappingURL=pagination.js.map