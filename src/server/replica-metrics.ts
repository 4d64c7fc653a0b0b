import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReadRouter } from '../db/read-routing';

/**
 * Replicas in /metrics (docs/replicas.md): each replica's lag and whether it is read, as the probe
 * last found them, and where routed reads went. Nothing is registered without replicas.
 */
export function registerReplicaMetrics(registry: Registry, reads: ReadRouter): void {
  if (!reads.enabled) return;
  new Gauge({
    name: 'db_replica_lag_seconds',
    help: 'Staleness of each replica by the primary WAL history (+Inf: unknown or behind the whole history).',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      for (const r of reads.replicaStates()) this.set({ replica: r.name }, r.lagMs / 1000);
    },
  });
  new Gauge({
    name: 'db_replica_up',
    help: '1 when the replica answered its last probe and no read on it has failed since.',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      for (const r of reads.replicaStates()) this.set({ replica: r.name }, r.up ? 1 : 0);
    },
  });
  // The router counts; the counter catches up with it at scrape time.
  const seen = { replica: 0, primary: 0, failedOver: 0 };
  new Counter({
    name: 'db_routed_reads_total',
    help: 'Reads that may use a replica, by where they ran (failed_over: a replica failed, the primary answered).',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      const c = reads.counts;
      this.inc({ target: 'replica' }, c.replica - seen.replica);
      this.inc({ target: 'primary' }, c.primary - seen.primary);
      this.inc({ target: 'failed_over' }, c.failedOver - seen.failedOver);
      Object.assign(seen, { replica: c.replica, primary: c.primary, failedOver: c.failedOver });
    },
  });
}
