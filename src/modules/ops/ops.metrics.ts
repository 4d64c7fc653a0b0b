import type { MikroORM } from '@mikro-orm/postgresql';
import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../../config';
import { sqlAll } from '../../db/sql';
import type { Services } from '../../server/services';

const CIRCUIT = { closed: 0, 'half-open': 1, open: 2 } as const;

/** How the database pool of this process is used (knex's tarn pool under MikroORM). */
function poolOf(
  orm: MikroORM,
): { numUsed(): number; numFree(): number; numPendingAcquires(): number } | null {
  const knex = (orm.em.getDriver().getConnection('write') as unknown as { getKnex(): any }).getKnex();
  return knex?.client?.pool ?? null;
}

/**
 * The operations metrics (issue 13), registered into the app's /metrics registry: switches, and
 * the readings that say work is stuck or failing. Database readings are taken when /metrics is
 * scraped (a few indexed counts); ops/alerts.yml holds the alert rules over them.
 */
export function registerOperationsMetrics(
  registry: Registry,
  services: Services,
  orm: MikroORM,
  config: Config,
): void {
  registry.registerMetric(services.switches.changes);
  registry.registerMetric(services.switches.gauge);
  const em = () => orm.em.fork() as any;
  const gauge = (
    name: string,
    help: string,
    collect: (g: Gauge) => Promise<void> | void,
    labelNames: string[] = [],
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        await collect(this);
      },
    });

  gauge(
    'orders_pending_payment_overdue',
    'Orders still PENDING_PAYMENT more than a minute past their payment deadline (expiry is not keeping up)',
    async (g) => {
      const [r] = await sqlAll<{ n: number }>(
        em(),
        `select count(*)::int as n from shop_order where status = 'PENDING_PAYMENT' and payment_deadline < now() - interval '1 minute'`,
      );
      g.set(r.n);
    },
  );
  gauge(
    'orders_paid_unshipped',
    `Orders PAID for more than OPS_UNSHIPPED_DAYS (${config.ops.unshippedDays}) days and not shipped`,
    async (g) => {
      const [r] = await sqlAll<{ n: number }>(
        em(),
        `select count(*)::int as n from shop_order where status = 'PAID' and updated_at < now() - make_interval(days => $1)`,
        [config.ops.unshippedDays],
      );
      g.set(r.n);
    },
  );
  gauge(
    'outbox_relay_lag_events',
    'Order events committed but not yet published to subscribers',
    async (g) => {
      const [r] = await sqlAll<{ n: string }>(
        em(),
        `select (select count(*) from order_event where pos is null)
              + (select assigned_pos - published_pos from outbox_relay) as n`,
      );
      g.set(Number(r.n));
    },
  );
  gauge(
    'outbox_relay_lag_seconds',
    'Age of the oldest order event not yet published (0 when none waits)',
    async (g) => {
      const [r] = await sqlAll<{ s: number | null }>(
        em(),
        `select extract(epoch from now() - min(created_at))::float8 as s from order_event
          where pos is null or pos > (select published_pos from outbox_relay)`,
      );
      g.set(r.s ?? 0);
    },
  );
  gauge(
    'sales_rollup_lag_events',
    'Order events not yet folded into the sales rollup (figures include them anyway)',
    async (g) => {
      const [r] = await sqlAll<{ n: string }>(
        em(),
        `select (select assigned_pos from outbox_relay) - (select position from sales_rollup_cursor) as n`,
      );
      g.set(Math.max(0, Number(r.n)));
    },
  );
  gauge(
    'payment_provider_circuit_state',
    'Payment provider circuit breaker: 0 closed, 1 half-open, 2 open',
    (g) => {
      g.set(CIRCUIT[services.provider.circuitState()]);
    },
  );
  gauge(
    'db_pool_connections',
    'Database connections of this process by state (used, free, pending: requests waiting for one)',
    (g) => {
      const pool = poolOf(orm);
      if (!pool) return;
      g.set({ state: 'used' }, pool.numUsed());
      g.set({ state: 'free' }, pool.numFree());
      g.set({ state: 'pending' }, pool.numPendingAcquires());
      g.set({ state: 'max' }, config.dbPoolSize);
    },
    ['state'],
  );
  gauge(
    'jobs_dead_letter',
    'Jobs that used up their retries, waiting in their dead-letter queue (see failedJobs)',
    async (g) => {
      g.reset();
      for (const c of await services.jobs.deadCounts()) g.set({ queue: c.queue }, c.count);
    },
    ['queue'],
  );
  gauge(
    'refunds_needing_attention',
    'Card refunds in NEEDS_ATTENTION (see refundsNeedingAttention)',
    async (g) => {
      const [r] = await sqlAll<{ n: number }>(
        em(),
        `select count(*)::int as n from refund where status = 'NEEDS_ATTENTION'`,
      );
      g.set(r.n);
    },
  );
  gauge(
    'work_backlog',
    'Work waiting, by kind, as the modules report it (OperationsService.registerBacklog; e.g. webhooks)',
    async (g) => {
      g.reset();
      for (const [kind, read] of services.ops.backlogs) g.set({ kind }, await read());
    },
    ['kind'],
  );
}
