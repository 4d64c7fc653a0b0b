import type { Registry } from 'prom-client';
import type { Services } from '../../server/services';

/**
 * The operations metrics (issue 13), registered into the app's /metrics registry: switches, and
 * the readings that say work is stuck or failing.
 */
export function registerOperationsMetrics(registry: Registry, services: Services): void {
  registry.registerMetric(services.switches.changes);
  registry.registerMetric(services.switches.gauge);
}
