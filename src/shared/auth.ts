import { Role } from './roles';
import { forbidden, unauthenticated } from './errors';

/** Who is calling, from a verified token. */
export interface Principal {
  userId: string;
  roles: Role[];
  merchantId: string | null;
}

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
