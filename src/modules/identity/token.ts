import { jwtVerify, SignJWT } from 'jose';
import type { Principal } from '../../shared/auth';
import { Role } from './user.entity';

/** What every token is checked against on each request: the user as the database has it now. */
export interface UserTokenState {
  tokenVersion: number;
  roles: Role[];
  merchantId: string | null;
}

/** The user's current token version, roles and merchant; null when the user does not exist. */
export type UserStateLookup = (userId: string) => Promise<UserTokenState | null>;

export interface TokenClaims {
  issuer: string;
  audience: string;
  /** How long a user's state is reused before the lookup runs again (0: every request). */
  stateCacheMs: number;
}

const DEFAULT_CLAIMS: TokenClaims = {
  issuer: 'commerce-graphql',
  audience: 'commerce-graphql',
  stateCacheMs: 2000,
};

/** Users whose state is kept at once; the oldest entry goes first beyond this. */
const MAX_CACHED_USERS = 50_000;

/**
 * Signed bearer tokens (HS256) with `sub`, `iss`, `aud`, `iat`, `exp` (TOKEN_TTL_SECONDS) and `ver`,
 * the user's token version when it was signed. A token is accepted only with every one of them
 * right and `ver` equal to the user's current version (signOut and a password change increase it).
 * Roles and merchant come from the database, never from the token: a demoted user loses a role at
 * once, and a forged claim could not add one.
 */
export class TokenService {
  private readonly key: Uint8Array;
  private readonly claims: TokenClaims;
  private users?: UserStateLookup;
  private readonly cache = new Map<string, { state: UserTokenState | null; until: number }>();

  constructor(
    secret: string,
    private readonly ttlSeconds: number,
    claims: Partial<TokenClaims> = {},
  ) {
    this.key = new TextEncoder().encode(secret);
    this.claims = { ...DEFAULT_CLAIMS, ...claims };
  }

  sign(p: Principal, tokenVersion = 0): Promise<string> {
    return new SignJWT({ ver: tokenVersion })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(p.userId)
      .setIssuer(this.claims.issuer)
      .setAudience(this.claims.audience)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** The principal, or null for a missing, forged, expired, revoked or incomplete token. */
  async verify(token: string): Promise<(Principal & { expiresAt: number }) | null> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: this.claims.issuer,
        audience: this.claims.audience,
        // jose checks `exp` only when present: a token without one would never expire.
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch {
      return null;
    }
    const userId = String(payload.sub);
    if (!/^\d{1,19}$/.test(userId) || !Number.isSafeInteger(payload.ver)) return null;
    const state = await this.stateOf(userId);
    if (!state || state.tokenVersion !== payload.ver) return null;
    return {
      userId,
      roles: state.roles.filter((r): r is Role => r in Role),
      merchantId: state.merchantId,
      expiresAt: (payload.exp ?? 0) * 1000,
    };
  }

  /** Installs the lookup of users' token state (the identity module; it needs the database). */
  acceptUsers(lookup: UserStateLookup): void {
    this.users = lookup;
  }

  /** Drops what this process remembers of a user (after signOut, a password change or a role change). */
  forget(userId: string): void {
    this.cache.delete(userId);
  }

  private async stateOf(userId: string): Promise<UserTokenState | null> {
    // No lookup installed (a tool without a database): no user token is accepted.
    if (!this.users) return null;
    const now = Date.now();
    const hit = this.cache.get(userId);
    if (hit && hit.until > now) return hit.state;
    const state = await this.users(userId);
    if (this.claims.stateCacheMs > 0) {
      this.cache.delete(userId);
      if (this.cache.size >= MAX_CACHED_USERS) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(userId, { state, until: now + this.claims.stateCacheMs });
    }
    return state;
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
