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

  /** Reads `Bearer <token>` from an Authorization header value. */
  async fromHeader(header: string | undefined | null): Promise<(Principal & { expiresAt: number }) | null> {
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
    return m ? this.verify(m[1]) : null;
  }
}
