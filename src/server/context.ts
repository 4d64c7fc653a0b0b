import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Principal } from '../shared/auth';
import { afterSaleLoaders } from '../modules/aftersale/aftersale.loaders';
import { catalogLoaders } from '../modules/catalog/catalog.loaders';
import { fulfillmentLoaders } from '../modules/fulfillment/fulfillment.loaders';
import { orderLoaders } from '../modules/order/order.loaders';
import { paymentLoaders } from '../modules/payment/payment.loaders';
import { partnerLoaders } from '../modules/partner/partner.loaders';
import type { Services } from './services';

/** Everything a resolver may use; built afresh for every request (and every subscription event). */
export interface Context {
  em: EntityManager;
  principal: Principal | null;
  loaders: ReturnType<typeof createLoaders>;
  services: Services;
  config: Config;
  /** The caller's address (rate limits, sign-in guard); set by the HTTP and WebSocket layers. */
  clientIp?: string;
  /** The request's logger: every line carries its request id (and trace id), so pass it on to services. */
  log: Logger;
}

/** Without `services`, catalog reads skip the shared caches (and go to PostgreSQL). */
export function createLoaders(em: EntityManager, services?: Services) {
  return {
    catalog: catalogLoaders(em, services?.catalogCache),
    order: orderLoaders(em),
    payment: paymentLoaders(em),
    fulfillment: fulfillmentLoaders(em),
    afterSale: afterSaleLoaders(em),
    partner: partnerLoaders(em),
  };
}

export function createContext(
  root: EntityManager,
  principal: Principal | null,
  services: Services,
  config: Config,
  log: Logger,
): Context {
  const em = root.fork() as EntityManager;
  return { em, principal, loaders: createLoaders(em, services), services, config, log };
}
