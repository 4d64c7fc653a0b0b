"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.canManage = exports.isAdmin = void 0;
exports.authorize = authorize;
exports.authorizeMerchant = authorizeMerchant;
const user_entity_1 = require("../modules/identity/user.entity");
const errors_1 = require("./errors");
/**
 * The one authorization helper every resolver uses.
 * - `authorize(p)`: any signed-in user.
 * - `authorize(p, Role.ADMIN)`: one of the roles.
 */
function authorize(principal, ...roles) {
    if (!principal)
        throw (0, errors_1.unauthenticated)();
    if (roles.length > 0 && !roles.some((r) => principal.roles.includes(r))) {
        throw (0, errors_1.forbidden)(`Requires role ${roles.join(' or ')}`);
    }
    return principal;
}
/** The merchant a MERCHANT principal operates; FORBIDDEN for anyone else. */
function authorizeMerchant(principal) {
    const p = authorize(principal, user_entity_1.Role.MERCHANT);
    if (!p.merchantId)
        throw (0, errors_1.forbidden)('This user operates no merchant');
    return p;
}
const isAdmin = (p) => !!p?.roles.includes(user_entity_1.Role.ADMIN);
exports.isAdmin = isAdmin;
/** Owner merchant or admin: who may see exact stock counts and manage a product. */
const canManage = (p, merchantId) => (0, exports.isAdmin)(p) || (!!p?.merchantId && p.merchantId === merchantId && p.roles.includes(user_entity_1.Role.MERCHANT));
exports.canManage = canManage;
//# sourceMappingURL=auth.js.map