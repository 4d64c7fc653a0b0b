import { jwtVerify, SignJWT } from 'jose';
import type { Principal } from '../../shared/auth';
import { Role } from './user.entity';

/** Signed bearer tokens (HS256) carrying the principal; expiry from TOKEN_TTL_SECONDS. */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  sign(p: Principal): Promise<string> {
    return new SignJWT({ roles: p.roles, mid: p.merchantId })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(p.userId)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** The principal, or null for a missing, forged or expired token. */
  async verify(token: string): Promise<(Principal & { expiresAt: number }) | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'] });
      const roles = (payload.roles as string[]).filter((r): r is Role => r in Role);
      return {
        userId: String(payload.sub),
        roles,
        merchantId: (payload.mid as string | null) ?? null,
        expiresAt: (payload.exp ?? 0) * 1000,
      };
    } catch {
      return null;
    }
  }

  /**
   * Reads `Bearer <token>` from an Authorization header value. An `sk_` token is a partner's API
   * key, resolved by the verifier the partner module installs (none installed: refused).
   */
  async fromHeader(header: string | undefined | null): Promise<(Principal & { expiresAt?: number }) | null> {
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
    if (!m) return null;
    if (m[1].startsWith('sk_')) return this.apiKeys ? this.apiKeys(m[1]) : null;
    return this.verify(m[1]);
  }

  private apiKeys?: ApiKeyVerifier;

  /** Installs the lookup of `sk_` secrets (the partner module; it needs the database). */
  acceptApiKeys(verify: ApiKeyVerifier): void {
    this.apiKeys = verify;
  }
}

/** The principal of a live API key; null for an unknown, revoked or malformed one. */
export type ApiKeyVerifier = (secret: string) => Promise<Principal | null>;
