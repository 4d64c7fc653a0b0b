import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Live readings of the event machinery, taken when /metrics is scraped. */
export interface LiveSources {
  subscriptions(): number;
  relayLeader(): boolean;
}

/** Prometheus metrics served at GET /metrics. */
export function createMetrics(live?: LiveSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (live) {
    new Gauge({
      name: 'order_event_subscriptions',
      help: 'Live orderEvents and merchantOrderEvents subscriptions on this process',
      registers: [registry],
      collect() {
        this.set(live.subscriptions());
      },
    });
    new Gauge({
      name: 'outbox_relay_leader',
      help: '1 when this process relays order events',
      registers: [registry],
      collect() {
        this.set(live.relayLeader() ? 1 : 0);
      },
    });
  }
  return {
    registry,
    requests: new Counter({
      name: 'graphql_operations_total',
      help: 'GraphQL operations by name and outcome',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    sqlStatements: new Histogram({
      name: 'graphql_sql_statements',
      help: 'SQL statements per GraphQL operation',
      buckets: [0, 1, 2, 3, 5, 8, 13, 21, 34, 55],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
