import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { requireMailTransport, requirePaymentProvider, type Config } from './config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded';
import { connectOrm, migrate } from './db/orm';
import { entities } from './modules/entities';
import { sqlAll } from './db/sql';
import { generateCatalog } from './modules/catalog/demo-data';
import { buildAppSchema } from './server/schema';
import { startHttp, type RunningHttp } from './server/http';
import { createMetrics } from './server/metrics';
import { createServices, type Services } from './server/services';
import { Jobs } from './shared/jobs';
import { startSandboxProcess, type SandboxProcess } from './sandbox/process';
import { paymentReturnPage, paymentWebhook } from './modules/payment/webhook';
import { REFUND_JOB } from './modules/payment/refund.service';
import { purgeKeys } from './shared/idempotency';
import { EXPIRE_JOB, SNAPSHOT_JOB } from './modules/checkout/checkout.service';
import { AUTO_COMPLETE_JOB } from './modules/fulfillment/completion.service';
import { logisticsWebhook } from './modules/fulfillment/logistics.webhook';
import { LocalEventBus, RedisEventBus, type EventBus } from './modules/events/event-bus';
import { OutboxRelay } from './modules/events/relay';
import { OutboxSignal, onEventsCommitted } from './modules/events/outbox-signal';
import { REVIEW_JOB } from './modules/aftersale/aftersale.service';
import { registerOperationsMetrics } from './modules/ops/ops.metrics';
import { startWebhookDelivery, type WebhookRuntime } from './modules/webhook/webhook.runtime';
import { createSharedCache } from './shared/cache/create';
import type { SharedCache } from './shared/cache/shared-cache';
import { SNAPSHOT_SWEEP_JOB, sweepSnapshots } from './modules/checkout/snapshot-sweep';
import { createLogger } from './server/protection/log';
import { ARCHIVE_JOB } from './modules/archive/archive.service';
import { readYourWritesPlugin } from './server/read-your-writes';
import { registerSellerStoreMetrics } from './modules/seller/seller.metrics';
import { registerReplicaMetrics } from './server/replica-metrics';
import { createFlashSaleRuntime, type FlashSaleRuntime } from './modules/flashsale/flashsale.runtime';
import { MAIL_JOB } from './modules/mail/mail.outbox';

/**
 * Background work. Every process runs every worker; pg-boss hands each job to exactly one.
 * Delayed jobs do the timely work (a checkout's expiry at its deadline), crons are the backstop.
 */
async function startWorkers(orm: MikroORM, services: Services, config: Config): Promise<void> {
  const em = () => orm.em.fork() as any;
  await services.jobs.workBatch<{ snapshots: { digest: string; title: string; data: object }[] }>(
    SNAPSHOT_JOB,
    (batch) =>
      services.checkout.writeSnapshots(
        em(),
        batch.flatMap((d) => d.snapshots),
      ),
  );
  await services.jobs.work<{ checkoutId: string }>(EXPIRE_JOB, async (d) => {
    await services.orders.expireCheckout(em(), d.checkoutId);
  });
  await services.jobs.every('orders.expire-overdue', '* * * * *', async () => {
    await services.orders.expireOverdue(em());
  });
  await services.jobs.every('carts.purge-stale', '17 3 * * *', async () => {
    await services.cart.purgeStale(em(), config.cart.anonymousTtlDays);
  });
  await services.jobs.every('idempotency.purge', '41 * * * *', () =>
    purgeKeys(em(), config.idempotencyTtlHours),
  );
  await services.jobs.work<{ refundId: string }>(REFUND_JOB, (d) =>
    services.refunds.execute(em(), d.refundId),
  );
  await services.jobs.every('payments.reconcile', '* * * * *', async () => {
    await services.payments.reconcile(em());
    await services.refunds.retryPending(em());
  });
  await services.jobs.work<{ orderId: string }>(AUTO_COMPLETE_JOB, async (d) => {
    await services.fulfillment.completeDue(em(), d.orderId);
  });
  await services.jobs.every('orders.auto-complete-overdue', '* * * * *', async () => {
    await services.fulfillment.completeOverdue(em());
  });
  await services.jobs.work<{ afterSaleId: string }>(REVIEW_JOB, async (d) => {
    await services.afterSales.autoApprove(em(), d.afterSaleId);
  });
  await services.jobs.every('aftersale.sweep', '* * * * *', async () => {
    await services.afterSales.sweep(em());
  });
  // operations (issue 13): rebuilds order-line snapshots whose job never wrote them
  await services.jobs.every(SNAPSHOT_SWEEP_JOB, '*/10 * * * *', async () => {
    await sweepSnapshots(em(), config.currency, (s) => services.checkout.writeSnapshots(em(), s));
  });
  // Hot and cold orders (issue 14): finished orders move to the archive schema, batch by batch;
  // a run stops before the next tick (a longer backlog continues then).
  if (services.archive.enabled) {
    await services.jobs.every(ARCHIVE_JOB, '* * * * *', async () => {
      await services.archive.archiveDue(em(), { budgetMs: 50_000 });
    });
  }
  // Sign-up verification (docs/accounts.md): mail delivery, and old pending sign-ups and mail purged.
  services.mail.attach(em);
  await services.jobs.work<{ id: string | null }>(MAIL_JOB, (d) => services.mail.deliver(em(), d.id));
  await services.jobs.every('signup.purge', '29 * * * *', async () => {
    await services.signups.purge(em());
    await services.mail.purge(em());
  });
  // A delivered replacement completes its exchange, in the carrier event's transaction.
  services.fulfillment.onShipmentDelivered(async (tx, shipment) => {
    if (shipment.kind === 'EXCHANGE') await services.afterSales.onShipmentDelivered(tx, String(shipment.id));
  });
}

export interface App {
  config: Config;
  orm: MikroORM;
  services: Services;
  http: RunningHttp;
  url: string;
  log: Logger;
  relay: OutboxRelay;
  bus: EventBus;
  webhooks: WebhookRuntime;
  flashSales: FlashSaleRuntime;
  stop(): Promise<void>;
}

/** Redis fans events out to every process when REDIS_URL is set; otherwise this process only. */
async function createEventBus(config: Config, log: Logger): Promise<EventBus> {
  if (!config.redisUrl) return new LocalEventBus();
  const bus = new RedisEventBus(config.redisUrl, log);
  await bus.start();
  return bus;
}

export const DEMO_PRODUCTS = 1200;

/**
 * Starts everything the configuration asks for: the embedded PostgreSQL when no DATABASE_URL is
 * set, migrations, the bootstrap admin, demo data on an empty embedded database, and the server.
 */
export async function startApp(config: Config, log: Logger = createLogger(config.logLevel)): Promise<App> {
  requirePaymentProvider(config); // before anything starts: a clear message, nothing to undo
  requireMailTransport(config); // sign-up verification (docs/accounts.md)
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    log.info({ dir: join(config.dataDir, 'pg') }, 'starting embedded PostgreSQL');
    embedded = await startEmbeddedPostgres(join(config.dataDir, 'pg'), (line) => log.debug({ pg: line }));
    url = embedded.url;
  }
  let jobs: Jobs | undefined;
  let sandbox: SandboxProcess | undefined;
  let bus: EventBus | undefined;
  let relay: OutboxRelay | undefined;
  let stopSwitches = () => {};
  let stopReads = async () => {};
  let webhooks: WebhookRuntime | undefined;
  let cache: SharedCache | undefined;
  let running: App | undefined;
  let flash: FlashSaleRuntime | undefined;
  const orm = await connectOrm({
    url,
    entities,
    replicaUrls: config.databaseReplicaUrls,
    poolSize: config.dbPoolSize,
    preparedStatements: config.dbPreparedStatements,
    logger: (m) => log.info(m.replace(/\x1b\[[0-9;]*m/g, '')),
    timeouts: config.dbTimeouts,
  });
  try {
    await migrate(orm);
    jobs = new Jobs(url, log, config.jobPollSeconds, config.dbTimeouts);
    await jobs.start();
    // Only when asked for (PAYMENT_PROVIDER=sandbox, or the embedded default): docs/security.md.
    if (requirePaymentProvider(config) === 'sandbox') {
      sandbox = await startSandboxProcess({
        apiKey: config.paymentProviderApiKey,
        webhookSecret: config.paymentWebhookSecret,
        log: (l) => log.warn({ sandbox: l }),
      });
      log.info(`sandbox payment provider at ${sandbox.url}`);
    }
    bus = await createEventBus(config, log);
    cache = await createSharedCache({
      redisUrl: config.redisUrl,
      databaseUrl: url,
      maxEntries: config.catalogCache.maxEntries,
      log,
    });
    flash = await createFlashSaleRuntime(config, log);
    const services = createServices(
      config,
      jobs,
      log,
      config.paymentProviderUrl ?? sandbox!.url,
      bus,
      cache,
      flash,
    );
    // Partners (h4): `Bearer sk_...` is an API key, looked up on every request (revocation is immediate).
    services.tokens.acceptApiKeys((secret) => services.partners.authenticate(orm.em.fork() as any, secret));
    // security (issue 12): every user token is checked against the user's token version and roles.
    services.tokens.acceptUsers((userId) => services.identity.tokenState(orm.em.fork() as any, userId));
    const em = orm.em.fork();

    const admin = await services.identity.ensureAdmin(em as any, config.adminEmail, config.adminPassword);
    if (admin.password) {
      log.warn(
        `bootstrap admin created: ${config.adminEmail} / ${admin.password} (shown once; set ADMIN_PASSWORD to choose it)`,
      );
    }

    if (config.demoData) {
      const [{ n }] = await sqlAll<{ n: number }>(em as any, 'select count(*)::int as n from product');
      if (n === 0) {
        log.info(`loading the demo catalog (${DEMO_PRODUCTS} products)`);
        const logins = await generateCatalog(em as any, services.identity, { products: DEMO_PRODUCTS });
        log.warn(`demo logins: ${logins.map((l) => `${l.role} ${l.email} / ${l.password}`).join('; ')}`);
      }
    }

    // operations (issue 13): switches are read before anything is served
    await services.switches.start(() => orm.em.fork() as any);
    services.salesRollup.start(() => orm.em.fork() as any);
    stopSwitches = () => {
      services.switches.stop();
      void services.salesRollup.stop();
    };
    await startWorkers(orm, services, config);
    // Seller-side store (issue 14): every published batch wakes its consumer; a timer backs it up.
    services.sellerProjector.start(() => orm.em.fork() as any);
    bus.listen({
      onEvents: () => services.sellerProjector.wake(),
      onGap: () => services.sellerProjector.wake(),
    });
    // replicas (issue 14): probed from now on; until then every read goes to the primary
    await services.reads.start(orm, config.redisUrl);
    stopReads = () => services.reads.stop();
    flash.startWorker(() => orm.em.fork() as any, services.flashSales, services.checkout, services.orders);
    relay = new OutboxRelay(url, bus, log, config.eventRelayPollMs, config.dbTimeouts);
    await relay.start();
    // Outbound webhooks: deliveries derived from the published events, sent by every process.
    webhooks = startWebhookDelivery(orm, bus, services.webhooks, config.webhooks, log);
    // Stock moved by orders reaches the availability cache from the outbox. With a shared cache
    // one process (the relay's) is enough; alone, this process does it.
    const shared = cache.store.shared;
    bus.listen({
      onEvents: (batch) => {
        if (shared && !(running?.relay ?? relay)!.isLeader()) return;
        services.catalogCache
          .onOrderEvents(orm.em.fork() as any, batch)
          .catch((e) => services.catalogCache.warn('availability cache update failed', e));
      },
      onGap: () => undefined,
    });
    const signal = new OutboxSignal(() => orm.em.getConnection().execute('notify order_event'));
    onEventsCommitted(() => signal.ping());
    const metrics = createMetrics({
      subscriptions: () => services.events.subscriptions,
      relayLeader: () => relay!.isLeader(),
    });
    registerOperationsMetrics(metrics.registry, services, orm, config);
    registerSellerStoreMetrics(metrics.registry, services.sellerStore, () => orm.em.fork() as any);
    registerReplicaMetrics(metrics.registry, services.reads);
    const http = await startHttp(
      {
        config,
        orm,
        schema: buildAppSchema(),
        services,
        log,
        metrics,
        plugins: [readYourWritesPlugin(services.reads)],
      },
      {
        '/webhooks/payments': paymentWebhook(
          orm,
          services.payments,
          () => [config.paymentWebhookSecret],
          log,
        ),
        '/payments/return': paymentReturnPage,
        '/webhooks/logistics': logisticsWebhook(
          orm,
          services.fulfillment,
          () => [config.logisticsWebhookSecret],
          log,
        ),
      },
    );
    services.paymentSettings.publicUrl ||= `http://127.0.0.1:${http.port}`;
    const app: App = {
      config,
      orm,
      services,
      http,
      log,
      url: `http://127.0.0.1:${http.port}/graphql`,
      relay,
      bus,
      webhooks,
      flashSales: flash,
      async stop() {
        // Each step timed: a slow shutdown names the part that held it up.
        const steps: Record<string, number> = {};
        // A failing step (PostgreSQL already gone after a Ctrl-C to the whole process group) is
        // logged and the others still run: everything that can be closed is closed.
        const step = async (name: string, fn: () => Promise<unknown> | undefined) => {
          const started = Date.now();
          await Promise.resolve()
            .then(fn)
            .catch((err: unknown) => log.warn({ err, step: name }, 'shutdown step failed'));
          steps[name] = Date.now() - started;
        };
        await step('http', () => http.close());
        services.switches.stop();
        await step('webhooks', () => webhooks!.stop());
        await step('sales-rollup', () => services.salesRollup.stop());
        await step('seller-store', () => services.sellerProjector.stop());
        await step('relay', () => app.relay.stop()); // the relay in use (a test may have replaced it)
        await step('bus', () => bus!.close());
        await step('protection', () => services.protection.close());
        await step('cache', () => cache!.close());
        await step('reads', () => services.reads.stop());
        await step('flash-sales', () => flash!.close());
        await step('jobs', () => jobs!.stop());
        await step('sandbox', () => sandbox?.stop());
        await step('orm', () => orm.close());
        await step('postgres', () => embedded?.stop());
        log.info({ steps }, 'stopped');
      },
    };
    running = app;
    return app;
  } catch (e) {
    stopSwitches();
    await stopReads();
    await webhooks?.stop();
    await relay?.stop();
    await bus?.close();
    await cache?.close();
    await flash?.close();
    await jobs?.stop().catch(() => undefined);
    await sandbox?.stop();
    await orm.close();
    await embedded?.stop();
    throw e;
  }
}
