import { isAdmin, type Principal } from '../../shared/auth';
import { badInput, forbidden, unauthenticated } from '../../shared/errors';
import { isId } from '../../shared/ids';
// Admins, the shop's MERCHANT, and partners holding WEBHOOKS for that shop.
import { canManageWebhooks } from '../partner/partner.access';

export { canManageWebhooks };

/**
 * The shop whose endpoints a call is about: the caller's own (a merchant or a partner acts for
 * one shop), or for an admin the `merchantId` named.
 */
export function webhookMerchant(p: Principal | null, merchantId?: string | null): string {
  if (!p) throw unauthenticated();
  const shop = merchantId ?? p.merchantId;
  if (!shop) {
    if (isAdmin(p)) throw badInput('merchantId is required for an admin', 'merchantId');
    throw forbidden('Only a shop (or a partner with WEBHOOKS) manages webhooks');
  }
  if (!isId(shop) || !canManageWebhooks(p, shop))
    throw forbidden('Not allowed to manage this shop’s webhooks');
  return shop;
}
