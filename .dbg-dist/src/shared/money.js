"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MAX_MINOR = void 0;
exports.formatMinor = formatMinor;
exports.parseMoney = parseMoney;
const errors_1 = require("./errors");
/** Two minor digits, as for USD and EUR; one currency per deployment (DESIGN.md). */
const MINOR_DIGITS = 2;
const SCALE = 10 ** MINOR_DIGITS;
/** Upper bound for a single amount: keeps every sum far inside Number.MAX_SAFE_INTEGER. */
exports.MAX_MINOR = 100_000_000_00;
function formatMinor(minor) {
    const sign = minor < 0 ? '-' : '';
    const abs = Math.abs(minor);
    const major = Math.floor(abs / SCALE);
    const rest = String(abs % SCALE).padStart(MINOR_DIGITS, '0');
    return `${sign}${major}.${rest}`;
}
/** Parses "19.99" or "20" into minor units; rejects negatives, floats beyond cents and junk. */
function parseMoney(input, field) {
    const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(input.trim());
    if (!m)
        throw (0, errors_1.badInput)(`${field} must be a non-negative amount such as "19.99"`, field);
    const minor = Number(m[1]) * SCALE + Number((m[2] ?? '').padEnd(MINOR_DIGITS, '0'));
    if (minor > exports.MAX_MINOR)
        throw (0, errors_1.badInput)(`${field} is too large`, field);
    return minor;
}
//# sourceMappingURL=money.js.map