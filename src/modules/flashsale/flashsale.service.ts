import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Principal } from '../../shared/auth';
import { notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { heldUnits } from '../inventory/inventory.store';
import { createSale, type FlashSaleInput } from './flashsale.create';
import type { EnterOutcome, FlashSaleCore, FlashSaleSettings } from './flashsale.deps';
import { DurableWaiters } from './flashsale.durable';
import { enterSale, isEntryId, viewOf } from './flashsale.enter';
import { pgDecisions } from './flashsale.enter-pg';
import type { RedisGate } from './flashsale.redis';
import { rebuildAllCopies, rebuildCopy } from './flashsale.reconcile';
import * as store from './flashsale.store';
import type { EntryView, FlashSaleRow } from './flashsale.types';
import { EntryStream, UpdateHub, type LinePersisted, type UpdateBus } from './flashsale.updates';

export type { EnterOutcome, FlashSaleSettings } from './flashsale.deps';
export type { FlashSaleInput } from './flashsale.create';
export { entryIdOf } from './flashsale.enter';

/**
 * Flash sales: creating a sale (which holds its units: flashsale.create.ts), entering it (decided
 * by the Redis gate, or by PostgreSQL without Redis: flashsale.enter.ts, flashsale.enter-pg.ts),
 * reading entries and following them live (here), and rebuilding Redis's copy of a sale
 * (flashsale.reconcile.ts). Turning entries into orders is the worker's part (flashsale.worker.ts).
 * This class holds the process's state of flash sales; the use cases are functions given it.
 */
export class FlashSaleService implements FlashSaleCore {
  readonly hub = new UpdateHub();
  /** Shoppers whose accepted entry is on its way from the Redis line to PostgreSQL. */
  readonly waiters = new DurableWaiters();
  private readonly reconciling = new Map<string, { done: Promise<void>; force: boolean }>();
  /** Full lines, shared prechecks and row turns of decisions without Redis. */
  readonly pgDecisions = pgDecisions();
  /** Every open sale's Redis copy must be rebuilt (Redis came back after being unreachable). */
  rebuildAll = false;
  /** Redis accepted an entry of the sale: wakes this process's line persister (set by it). */
  onAccepted: (saleId: string) => void = () => undefined;
  /** Entries reached PostgreSQL: wakes this process's worker (set by it). */
  onPersisted: () => void = () => undefined;

  constructor(
    readonly settings: FlashSaleSettings,
    readonly gate: RedisGate | null,
    readonly bus: UpdateBus,
    readonly log: Logger,
  ) {
    bus.listen(this.hub);
    bus.listen({
      onUpdates: (batch) => {
        let persisted = false;
        for (const u of batch)
          if ('persisted' in u) {
            this.waiters.onPersisted(u.persisted);
            persisted = true;
          }
        if (persisted) this.onPersisted();
      },
      onGap: () => this.waiters.checkAll(),
    });
  }

  /** Tells every process that part of a sale's line is in PostgreSQL (after the commit). */
  async announcePersisted(p: LinePersisted): Promise<void> {
    // This process first (its own shoppers need no round trip through Redis), then the others over
    // the bus (this process hears it again: settling is idempotent).
    this.waiters.onPersisted(p);
    await this.bus.publish([{ persisted: p }]);
  }

  // ------------------------------------------------------------------ sales

  /** ADMIN, or the variant's MERCHANT: the sale and the hold of its units (flashsale.create.ts). */
  create(em: EntityManager, principal: Principal, input: FlashSaleInput): Promise<FlashSaleRow> {
    return createSale(this, em, principal, input);
  }

  async find(em: EntityManager, id: string): Promise<(FlashSaleRow & { remaining: number }) | null> {
    const sale = isId(id) ? await store.saleById(em, id) : null;
    return sale ? { ...sale, remaining: await heldUnits(em, String(sale.id)) } : null;
  }

  // ------------------------------------------------------------------ entering

  /** Decides an entry at once (flashsale.enter.ts): QUEUED with a place in line, the key's entry, or why not. */
  enter(
    em: EntityManager,
    customerId: string,
    saleId: string,
    quantity: number,
    key: string,
  ): Promise<EnterOutcome> {
    return enterSale(this, em, customerId, saleId, quantity, key);
  }

  // ------------------------------------------------------------------ reading and following entries

  /**
   * Its customer only; anyone else reads it as not existing. PostgreSQL only: an entry is shown
   * (and its shopper told QUEUED) once it is stored there, never while only Redis has it.
   */
  async entry(em: EntityManager, principal: Principal | null, id: string): Promise<EntryView | null> {
    if (!principal || !isEntryId(id)) return null;
    const row = await store.entryById(em, id);
    if (!row || String(row.customer_id) !== principal.userId) return null;
    return viewOf(em, row);
  }

  /** The entry now, then each change of its status or place in line. */
  async entryStream(em: EntityManager, principal: Principal | null, id: string): Promise<EntryStream> {
    const first = await this.entry(em, principal, id);
    if (!first) throw notFound('FlashSaleEntry', id.slice(0, 60));
    let remove: () => void = () => undefined;
    const stream = new EntryStream(
      first,
      () => this.entry(em.fork() as EntityManager, principal, id),
      () => remove(),
    );
    remove = this.hub.add(stream);
    // An update published between the first read and joining the hub is caught by a second read.
    stream.refresh();
    return stream;
  }

  // ------------------------------------------------------------------ Redis reconciliation

  /**
   * Rebuilds a sale's Redis copy from PostgreSQL (flashsale.reconcile.ts); a call while one for the
   * same sale is under way in this process shares it, unless this call forces a rebuild and that
   * one does not (it may keep the copy it finds): then this one follows it.
   */
  reconcile(em: EntityManager, saleId: string, force: boolean): Promise<void> {
    const running = this.reconciling.get(saleId);
    if (running && (running.force || !force)) return running.done;
    const after = running?.done.catch(() => undefined) ?? Promise.resolve();
    const done = after
      .then(() => rebuildCopy(this, em, saleId, force))
      .finally(() => {
        if (this.reconciling.get(saleId)?.done === done) this.reconciling.delete(saleId);
      });
    this.reconciling.set(saleId, { done, force });
    return done;
  }

  /** Every open sale's copy (when Redis answers again after being unreachable). */
  reconcileAll(em: EntityManager, force: boolean): Promise<void> {
    return rebuildAllCopies(this, em, force);
  }
}
