/**
 * What a partner may do for its merchant. Plain TypeScript (no GraphQL) so that shared/auth.ts and
 * the services can use it; partner.types.ts registers it as the PartnerScope enum.
 */
export enum PartnerScope {
  /** Catalog queries (products, product, categories, category). */
  CATALOG_READ = 'CATALOG_READ',
  /** order, orders and merchantOrderEvents of its merchant. */
  ORDERS_READ = 'ORDERS_READ',
  /** orderShip and shipmentTrackingUpdate on its merchant's orders. */
  FULFILLMENT_WRITE = 'FULFILLMENT_WRITE',
  /** The webhook endpoints of its merchant. */
  WEBHOOKS = 'WEBHOOKS',
}

export const ALL_SCOPES = Object.values(PartnerScope);

export const isScope = (s: string): s is PartnerScope => (ALL_SCOPES as string[]).includes(s);
