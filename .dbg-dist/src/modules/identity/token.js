"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.TokenService = void 0;
const jose_1 = require("jose");
const user_entity_1 = require("./user.entity");
/** Signed bearer tokens (HS256) carrying the principal; expiry from TOKEN_TTL_SECONDS. */
class TokenService {
    ttlSeconds;
    key;
    constructor(secret, ttlSeconds) {
        this.ttlSeconds = ttlSeconds;
        this.key = new TextEncoder().encode(secret);
    }
    sign(p) {
        return new jose_1.SignJWT({ roles: p.roles, mid: p.merchantId })
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject(p.userId)
            .setIssuedAt()
            .setExpirationTime(`${this.ttlSeconds}s`)
            .sign(this.key);
    }
    /** The principal, or null for a missing, forged or expired token. */
    async verify(token) {
        try {
            const { payload } = await (0, jose_1.jwtVerify)(token, this.key, { algorithms: ['HS256'] });
            const roles = payload.roles.filter((r) => r in user_entity_1.Role);
            return {
                userId: String(payload.sub),
                roles,
                merchantId: payload.mid ?? null,
                expiresAt: (payload.exp ?? 0) * 1000,
            };
        }
        catch {
            return null;
        }
    }
    /** Reads `Bearer <token>` from an Authorization header value. */
    async fromHeader(header) {
        const m = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
        return m ? this.verify(m[1]) : null;
    }
}
exports.TokenService = TokenService;
//# sourceMappingURL=token.js.map