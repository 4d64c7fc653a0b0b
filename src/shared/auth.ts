import { Role } from './roles';
import type { PartnerScope } from './partner-scope';
import { forbidden, unauthenticated } from './errors';

/** A partner calling with an API key: it acts for its merchant, within its scopes. */
export interface PartnerPrincipal {
  id: string;
  merchantId: string;
  scopes: PartnerScope[];
}

/** Who is calling, from a verified token (a user's JWT or a partner's API key). */
export interface Principal {
  userId: string;
  roles: Role[];
  merchantId: string | null;
  /**
   * Set for API keys. Such a principal carries the MERCHANT role of its shop so the merchant's
   * resolvers serve it, but it only ever reaches the root fields its scopes allow
   * (modules/partner/partner.access.ts checks every operation before it runs).
   */
  partner?: PartnerPrincipal;
}

/** No user has id 0: buyer checks (`buyer_id = userId`) never match a partner. */
export const PARTNER_USER_ID = '0';

/**
 * The one authorization helper every resolver uses.
 * - `authorize(p)`: any signed-in user.
 * - `authorize(p, Role.ADMIN)`: one of the roles.
 */
export function authorize(principal: Principal | null, ...roles: Role[]): Principal {
  if (!principal) throw unauthenticated();
  if (roles.length > 0 && !roles.some((r) => principal.roles.includes(r))) {
    throw forbidden(`Requires role ${roles.join(' or ')}`);
  }
  return principal;
}

/** The merchant a MERCHANT principal operates; FORBIDDEN for anyone else. */
export function authorizeMerchant(principal: Principal | null): Principal & { merchantId: string } {
  const p = authorize(principal, Role.MERCHANT);
  if (!p.merchantId) throw forbidden('This user operates no merchant');
  return p as Principal & { merchantId: string };
}

export const isAdmin = (p: Principal | null): boolean => !!p?.roles.includes(Role.ADMIN);

/** Owner merchant or admin: who may see exact stock counts and manage a product. */
export const canManage = (p: Principal | null, merchantId: string): boolean =>
  isAdmin(p) || (!!p?.merchantId && p.merchantId === merchantId && p.roles.includes(Role.MERCHANT));
