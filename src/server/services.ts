import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Jobs } from '../shared/jobs';
import { CartService } from '../modules/cart/cart.service';
import { CatalogService } from '../modules/catalog/catalog.service';
import { SearchService } from '../modules/catalog/search.service';
import { CheckoutService } from '../modules/checkout/checkout.service';
import { IdentityService } from '../modules/identity/identity.service';
import { TokenService } from '../modules/identity/token';
import { InventoryService } from '../modules/inventory/inventory.service';
import { OrderService } from '../modules/order/order.service';
import { PricingService } from '../modules/pricing/pricing.service';
import { LedgerService } from '../modules/ledger/ledger.service';
import { PaymentService, type PaymentSettings } from '../modules/payment/payment.service';
import { RefundService } from '../modules/payment/refund.service';
import { AfterSaleService } from '../modules/aftersale/aftersale.service';
import { SandboxClient } from '../sandbox/client';
import { FulfillmentService } from '../modules/fulfillment/fulfillment.service';
import type { EventBus } from '../modules/events/event-bus';
import { EventsService } from '../modules/events/events.service';
import { FlashSaleService } from '../modules/flashsale/flashsale.service';
import type { RedisGate } from '../modules/flashsale/flashsale.redis';
import { LocalUpdateBus, type UpdateBus } from '../modules/flashsale/flashsale.updates';

/** The application's services: stateless singletons that take the request's EntityManager. */
export function createServices(
  config: Config,
  jobs: Jobs,
  log: Logger,
  providerUrl: string,
  bus: EventBus,
  // flash sales: the Redis gate (null: PostgreSQL decides) and the entry-update bus
  flash: { gate: RedisGate | null; bus: UpdateBus } = { gate: null, bus: new LocalUpdateBus() },
) {
  const provider = new SandboxClient({ baseUrl: providerUrl, apiKey: config.paymentProviderApiKey });
  const ledger = new LedgerService(config.limits.maxPageSize);
  /** publicUrl is completed by the app once the server listens (PORT=0 picks a port). */
  const paymentSettings: PaymentSettings = {
    currency: config.currency,
    feeBps: config.platformFeeBps,
    publicUrl: config.publicUrl ?? '',
    pollAfterSeconds: config.paymentPollAfterSeconds,
    windowSeconds: config.paymentWindowSeconds,
  };
  const tokens = new TokenService(config.jwtSecret, config.tokenTtlSeconds);
  const search = new SearchService(config.limits.maxPageSize, config.searchCacheTtlMs);
  const pricing = new PricingService(config.promotionCacheTtlMs);
  const orders = new OrderService(pricing, config.limits.maxPageSize, log);
  const refunds = new RefundService(config.platformFeeBps, ledger, orders, provider, jobs, log);
  return {
    afterSales: new AfterSaleService(config.afterSale, refunds, jobs, log),
    tokens,
    identity: new IdentityService(tokens),
    catalog: new CatalogService(() => search.invalidate()),
    search,
    inventory: new InventoryService(() => search.invalidate()),
    pricing,
    cart: new CartService(pricing, config.cart),
    orders,
    checkout: new CheckoutService(config, pricing, orders, jobs),
    ledger,
    refunds,
    payments: new PaymentService(paymentSettings, ledger, orders, refunds, provider, jobs, log),
    paymentSettings,
    jobs,
    fulfillment: new FulfillmentService(
      orders,
      ledger,
      refunds,
      jobs,
      {
        autoCompleteSeconds: config.orderAutoCompleteSeconds,
        pointsPerCurrencyUnit: config.points.perCurrencyUnit,
      },
      log,
    ),
    events: new EventsService(bus),
    flashSales: new FlashSaleService(config.flashSale, flash.gate, flash.bus, log),
  };
}

export type Services = ReturnType<typeof createServices>;
