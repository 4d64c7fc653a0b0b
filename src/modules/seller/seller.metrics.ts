import type { EntityManager } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';
import { sqlAll } from '../../db/sql';
import type { SellerStore } from './seller.store';

/**
 * The seller-side store in /metrics: how far its consumer is behind the relay (read when scraped:
 * two index lookups), and how many merchant lists this process answered from the source because
 * the store could not catch up in time (a rising figure means the consumer is stuck or slow).
 */
export function registerSellerStoreMetrics(
  registry: Registry,
  store: SellerStore,
  em: () => EntityManager,
): void {
  new Gauge({
    name: 'seller_store_lag_events',
    help: 'Order events numbered by the relay but not yet applied to the seller-side store',
    registers: [registry],
    async collect() {
      const [r] = await sqlAll<{ lag: string }>(
        em(),
        `select (select coalesce(max(pos), 0) from order_event) - position as lag from seller_store_cursor`,
      );
      this.set(Math.max(0, Number(r.lag)));
    },
  });
  new Gauge({
    name: 'seller_store_read_fallbacks',
    help: 'Merchant order lists this process read from the source because the seller-side store was behind (since start)',
    registers: [registry],
    collect() {
      this.set(store.fallbacks);
    },
  });
}
