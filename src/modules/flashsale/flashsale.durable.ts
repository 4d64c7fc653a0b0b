import type { LinePersisted } from './flashsale.updates';

/**
 * Shoppers whose entry Redis accepted, waiting for it to reach PostgreSQL before they are told
 * QUEUED. A shopper is told QUEUED only for an entry PostgreSQL has: Redis may die with entries it
 * accepted, and a line entry is durable only once persisted.
 *
 * `wait` settles with:
 * - `stored`: a persist notification covers the entry (same copy, seq up to `upTo`, not refused);
 * - `refused`: it was not stored (over the limit in PostgreSQL): PostgreSQL must decide it;
 * - `check`: nothing certain (a timeout, a notification of another copy, the Redis connection
 *   lost or back): the caller reads PostgreSQL and asks Redis whether the entry is still pending.
 */
export type DurableSignal = 'stored' | 'refused' | 'check';

interface Waiter {
  entryId: string;
  epoch: string;
  seq: number;
  settle(s: DurableSignal): void;
}

export class DurableWaiters {
  private readonly bySale = new Map<string, Set<Waiter>>();
  /** The last notification of each sale, for a waiter that registers after it went by. */
  private readonly last = new Map<string, LinePersisted>();

  wait(saleId: string, entryId: string, epoch: string, seq: number, ms: number): Promise<DurableSignal> {
    const seen = this.last.get(saleId);
    if (seen && seen.epoch === epoch && seq <= seen.upTo) return Promise.resolve('check');
    return new Promise<DurableSignal>((resolve) => {
      const set = this.bySale.get(saleId) ?? new Set<Waiter>();
      this.bySale.set(saleId, set);
      const timer = setTimeout(() => w.settle('check'), ms);
      const w: Waiter = {
        entryId,
        epoch,
        seq,
        settle: (s) => {
          clearTimeout(timer);
          set.delete(w);
          if (set.size === 0 && this.bySale.get(saleId) === set) this.bySale.delete(saleId);
          resolve(s);
        },
      };
      set.add(w);
    });
  }

  onPersisted(p: LinePersisted): void {
    const prev = this.last.get(p.saleId);
    if (!prev || prev.epoch !== p.epoch || prev.upTo < p.upTo) this.last.set(p.saleId, p);
    const set = this.bySale.get(p.saleId);
    if (!set) return;
    const refused = new Set(p.refused);
    for (const w of [...set]) {
      if (w.epoch !== p.epoch) w.settle('check');
      else if (w.seq <= p.upTo) w.settle(refused.has(w.entryId) ? 'refused' : 'stored');
    }
  }

  /** Every waiter looks again (the Redis connection was lost or is back, or messages were lost). */
  checkAll(): void {
    for (const set of [...this.bySale.values()]) for (const w of [...set]) w.settle('check');
  }

  get size(): number {
    let n = 0;
    for (const set of this.bySale.values()) n += set.size;
    return n;
  }
}
