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
import { HttpCardProvider } from '../modules/payment/provider/http-card-provider';
import { FulfillmentService } from '../modules/fulfillment/fulfillment.service';
import type { EventBus } from '../modules/events/event-bus';
import { EventsService } from '../modules/events/events.service';
import { SwitchService } from '../modules/switches/switches.service';
import { WebhookService } from '../modules/webhook/webhook.service';
import { PartnerService } from '../modules/partner/partner.service';
import { Protection } from './protection';
import { MailOutbox } from '../modules/mail/mail.outbox';
import { LogMailer } from '../modules/mail/mailer';
import { SmtpMailer } from '../modules/mail/smtp-mailer';
import { SignUpService } from '../modules/identity/signup.service';

import type { SharedCache } from '../shared/cache/shared-cache';
import { CatalogCache } from '../modules/catalog/catalog.cache';
import { SalesService } from '../modules/sales/sales.service';
import { SalesRollup } from '../modules/sales/sales.rollup';
import { OperationsService } from '../modules/ops/ops.service';
import { RefundAttentionService } from '../modules/payment/refund-attention';
import { SellerProjector } from '../modules/seller/seller.projector';
import { SellerStore } from '../modules/seller/seller.store';
import { ArchiveService } from '../modules/archive/archive.service';
import { ReadRouter } from '../db/read-routing';
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
  cache: SharedCache,
  // flash sales: the Redis gate (null: PostgreSQL decides) and the entry-update bus
  flash: { gate: RedisGate | null; bus: UpdateBus } = { gate: null, bus: new LocalUpdateBus() },
) {
  const provider = new HttpCardProvider({ baseUrl: providerUrl, apiKey: config.paymentProviderApiKey });
  const ledger = new LedgerService(config.limits.maxPageSize);
  /** publicUrl is completed by the app once the server listens (PORT=0 picks a port). */
  const paymentSettings: PaymentSettings = {
    currency: config.currency,
    feeBps: config.platformFeeBps,
    publicUrl: config.publicUrl ?? '',
    pollAfterSeconds: config.paymentPollAfterSeconds,
    windowSeconds: config.paymentWindowSeconds,
  };
  const tokens = new TokenService(config.jwtSecret, config.tokenTtlSeconds, {
    issuer: config.security.jwtIssuer,
    audience: config.security.jwtAudience,
    stateCacheMs: config.security.tokenStateCacheMs,
  });
  const catalogCache = new CatalogCache(
    cache,
    {
      ...config.catalogCache,
      searchTtlMs: config.searchCacheTtlMs,
      lowStockThreshold: config.lowStockThreshold,
    },
    log,
  );
  const search = new SearchService(config.limits.maxPageSize, catalogCache);
  const pricing = new PricingService(config.promotionCacheTtlMs);
  // Seller-side store (issue 14): merchant lists and shop replays read it.
  const sellerProjector = new SellerProjector(config.sellerStore.intervalMs, log);
  const sellerStore = new SellerStore(sellerProjector, config.sellerStore, log);
  const orders = new OrderService(pricing, config.limits.maxPageSize, log, sellerStore);
  const switches = new SwitchService(config.ops.switchRefreshSeconds, log);
  const refunds = new RefundService(config.platformFeeBps, ledger, orders, provider, jobs, log);
  // Sign-up verification (docs/accounts.md): mail leaves through the outbox; the log mailer by default.
  const identity = new IdentityService(tokens, config.security.passwordMinLength);
  const mail = new MailOutbox(
    config.signup.smtpUrl
      ? new SmtpMailer(config.signup.smtpUrl)
      : new LogMailer(log.child({ module: 'mail' }), !config.production),
    jobs,
    config.signup.mailFrom,
    log,
  );
  return {
    afterSales: new AfterSaleService(config.afterSale, refunds, jobs, log),
    tokens,
    identity,
    mail,
    signups: new SignUpService(identity, mail, config.signup),
    catalog: new CatalogService((change) => catalogCache.catalogChanged(change), catalogCache),
    catalogCache,
    search,
    inventory: new InventoryService(config.lowStockThreshold, (moves) => catalogCache.levelsMoved(moves)),
    pricing,
    cart: new CartService(pricing, config.cart),
    orders,
    checkout: new CheckoutService(config, pricing, orders, jobs, switches),
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
    events: new EventsService(bus, undefined, undefined, (em, m, after, n) =>
      sellerStore.shopEvents(em, m, after, n),
    ),
    switches,
    webhooks: new WebhookService(config.webhooks),
    partners: new PartnerService(),
    // Rate limits, sign-in guard, cost model (docs/security.md).
    protection: new Protection(config, log),
    sales: new SalesService(),
    salesRollup: new SalesRollup(config.ops.salesRollupIntervalMs, log),
    ops: new OperationsService(jobs, config.limits.maxPageSize),
    refundAttention: new RefundAttentionService(ledger, jobs),
    sellerProjector,
    sellerStore,
    /** The payment provider's client (its circuit breaker is reported in /metrics). */
    provider,
    /** Hot and cold orders (issue 14): moves finished orders to the archive schema. */
    archive: new ArchiveService(config.archive, log),
    // Replicas with read-your-writes (issue 14): which reads may use a replica, and which one.
    reads: new ReadRouter(config.replicas, log),
    flashSales: new FlashSaleService(config.flashSale, flash.gate, flash.bus, log),
  };
}

export type Services = ReturnType<typeof createServices>;
