"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.IdentityService = exports.principalOf = void 0;
const core_1 = require("@mikro-orm/core");
const errors_1 = require("../../shared/errors");
const error_result_1 = require("../../shared/error-result");
const merchant_entity_1 = require("../catalog/merchant.entity");
const password_1 = require("./password");
const user_entity_1 = require("./user.entity");
const principalOf = (u) => ({
    userId: String(u.id),
    roles: u.roles,
    merchantId: u.merchantId ? String(u.merchantId) : null,
});
exports.principalOf = principalOf;
const normalizeEmail = (email) => email.trim().toLowerCase();
class IdentityService {
    tokens;
    constructor(tokens) {
        this.tokens = tokens;
    }
    async signUp(em, email, password, name) {
        const user = em.create(user_entity_1.User, {
            email: normalizeEmail(email),
            passwordHash: await (0, password_1.hashPassword)(password),
            name: name.trim(),
            roles: [user_entity_1.Role.CUSTOMER],
        });
        try {
            await em.flush();
        }
        catch (e) {
            if (e instanceof core_1.UniqueConstraintViolationException) {
                return error_result_1.UserError.of(error_result_1.ErrorCode.EMAIL_TAKEN, 'An account with this email exists', 'email');
            }
            throw e;
        }
        return { user, token: await this.tokens.sign((0, exports.principalOf)(user)) };
    }
    /** Unknown email and wrong password answer alike, in about the same time. */
    async signIn(em, email, password) {
        const user = await em.findOne(user_entity_1.User, { email: normalizeEmail(email) }, { populate: ['passwordHash'] });
        const ok = await (0, password_1.verifyPassword)(password, user?.passwordHash ?? (await (0, password_1.dummyHash)()));
        if (!user || !ok)
            return error_result_1.UserError.of(error_result_1.ErrorCode.INVALID_CREDENTIALS, 'Email or password is wrong');
        return { user, token: await this.tokens.sign((0, exports.principalOf)(user)) };
    }
    viewer(em, principal) {
        return em.findOne(user_entity_1.User, { id: principal.userId });
    }
    /** A merchant and the user who operates it, together or not at all. */
    async createMerchant(em, input) {
        const passwordHash = await (0, password_1.hashPassword)(input.ownerPassword);
        try {
            return await em.transactional(async (tx) => {
                const merchant = tx.create(merchant_entity_1.Merchant, { name: input.name.trim() });
                await tx.flush();
                tx.create(user_entity_1.User, {
                    email: normalizeEmail(input.ownerEmail),
                    passwordHash,
                    name: input.ownerName.trim(),
                    roles: [user_entity_1.Role.MERCHANT],
                    merchantId: merchant.id,
                });
                await tx.flush();
                return merchant;
            });
        }
        catch (e) {
            if (e instanceof core_1.UniqueConstraintViolationException)
                throw (0, errors_1.badInput)('An account with this email exists', 'ownerEmail');
            throw e;
        }
    }
    /**
     * Creates the bootstrap admin when missing. Returns the generated password when none was
     * configured, so the caller can print it once.
     */
    async ensureAdmin(em, email, password) {
        const existing = await em.findOne(user_entity_1.User, { email: normalizeEmail(email) });
        if (existing)
            return { created: false };
        const generated = password ?? (await import('node:crypto')).randomBytes(12).toString('base64url');
        em.create(user_entity_1.User, {
            email: normalizeEmail(email),
            passwordHash: await (0, password_1.hashPassword)(generated),
            name: 'Administrator',
            roles: [user_entity_1.Role.ADMIN],
        });
        try {
            await em.flush();
        }
        catch (e) {
            // Another process created it at the same moment.
            if (e instanceof core_1.UniqueConstraintViolationException)
                return { created: false };
            throw e;
        }
        return { created: true, password: password ? undefined : generated };
    }
}
exports.IdentityService = IdentityService;
//# sourceMappingURL=identity.service.js.map