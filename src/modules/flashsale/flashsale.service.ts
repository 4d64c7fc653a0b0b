import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { canManage, type Principal } from '../../shared/auth';
import { ErrorCode, UserError } from '../../shared/error-result';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { parseMoney } from '../../shared/money';
import { OutOfStockError } from '../inventory/inventory.errors';
import { heldUnits, holdForSale } from '../inventory/stock';
import type { RedisGate } from './flashsale.redis';
import * as store from './flashsale.store';
import { FlashSaleEntryStatus, type EntryView, type FlashSaleRow } from './flashsale.types';
import { EntryStream, UpdateHub, type UpdateBus } from './flashsale.updates';

export interface FlashSaleSettings {
  /** FLASH_SALE_PAYMENT_WINDOW_SECONDS: how long a flash-sale order waits for payment. */
  paymentWindowSeconds: number;
  /** FLASH_SALE_WAITLIST_PERCENT: the line accepts quantity × (1 + this/100) units. */
  waitlistPercent: number;
  /** FLASH_SALE_BATCH_SIZE: entries turned into orders per transaction. */
  batchSize: number;
  /** FLASH_SALE_WORKER_INTERVAL_MS: how often an idle worker looks for work. */
  workerIntervalMs: number;
}

export type EnterOutcome = EntryView | UserError | OutOfStockError;

export interface FlashSaleInput {
  variantId: string;
  price: string;
  quantity: number;
  perCustomerLimit: number;
  startsAt: Date;
  endsAt: Date;
}

/** The entry id: derived from the sale, the customer and the key, so a retry names the same entry. */
export const entryIdOf = (saleId: string, customerId: string, key: string): string =>
  `${saleId}-${createHash('sha256').update(`${saleId}\n${customerId}\n${key}`).digest('base64url').slice(0, 16)}`;

const ENTRY_ID = /^(\d{1,19})-[A-Za-z0-9_-]{16}$/;

const notActive = () =>
  UserError.of(ErrorCode.FLASH_SALE_NOT_ACTIVE, 'This flash sale is not open for entries now', 'flashSaleId');
const limitReached = (limit: number) =>
  UserError.of(
    ErrorCode.FLASH_SALE_LIMIT_REACHED,
    `At most ${limit} unit(s) per customer in this flash sale`,
    'quantity',
  );
const keyReused = () =>
  UserError.of(
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    'This idempotency key was used for a different entry',
    'idempotencyKey',
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Flash sales: creating a sale (which holds its units), entering it (decided by the Redis gate, or
 * by PostgreSQL without Redis), reading entries and following them live. Turning entries into
 * orders is the worker's part (flashsale.worker.ts).
 */
export class FlashSaleService {
  readonly hub = new UpdateHub();
  private readonly reconciling = new Map<string, Promise<void>>();
  /** Set when a decision fell back to PostgreSQL: Redis is rebuilt when it answers again. */
  private fellBack = false;
  /** Wakes the worker of this process (set by the worker). */
  onAccepted: () => void = () => undefined;

  constructor(
    readonly settings: FlashSaleSettings,
    readonly gate: RedisGate | null,
    readonly bus: UpdateBus,
    private readonly log: Logger,
  ) {
    bus.listen(this.hub);
  }

  // ------------------------------------------------------------------ sales

  /**
   * ADMIN, or the variant's MERCHANT. The sale and its hold are written together: the units are
   * taken from the variant's available stock by one conditional statement, or nothing is written.
   * The same sale asked again (same variant and window, same terms) returns the first one.
   */
  async create(em: EntityManager, principal: Principal, input: FlashSaleInput): Promise<FlashSaleRow> {
    const price = parseMoney(input.price, 'price');
    const startsAt = new Date(input.startsAt);
    const endsAt = new Date(input.endsAt);
    if (!(endsAt > startsAt)) throw badInput('endsAt must be after startsAt', 'endsAt');
    if (endsAt.getTime() <= Date.now()) throw badInput('endsAt must be in the future', 'endsAt');
    if (input.perCustomerLimit > input.quantity)
      throw badInput('perCustomerLimit cannot exceed quantity', 'perCustomerLimit');
    const [variant] = isId(input.variantId)
      ? await sqlAll<{ merchant_id: string }>(em, 'select merchant_id from variant where id = $1', [
          input.variantId,
        ])
      : [];
    if (!variant || !canManage(principal, String(variant.merchant_id)))
      throw notFound('Variant', input.variantId.slice(0, 40));
    const lineCapacity = Math.ceil((input.quantity * (100 + this.settings.waitlistPercent)) / 100);
    const outcome = await inTransaction<FlashSaleRow, string>(em, async (tx) => {
      const sale = await store.insertSale(tx, {
        variantId: input.variantId,
        merchantId: String(variant.merchant_id),
        price,
        quantity: input.quantity,
        perCustomerLimit: input.perCustomerLimit,
        startsAt,
        endsAt,
        lineCapacity,
      });
      if (!sale) {
        const first = (await store.saleByWindow(tx, input.variantId, startsAt, endsAt))!;
        const same =
          Number(first.price) === price &&
          first.quantity === input.quantity &&
          first.per_customer_limit === input.perCustomerLimit;
        if (!same) throw new Rollback('A flash sale of this variant with this window already exists');
        return first;
      }
      const held = await holdForSale(tx, {
        flashSaleId: String(sale.id),
        variantId: input.variantId,
        quantity: input.quantity,
        until: endsAt,
      });
      if (!held) throw new Rollback(`Fewer than ${input.quantity} units of this variant are available`);
      return sale;
    });
    if (typeof outcome === 'string') throw badInput(outcome, 'quantity');
    if (this.gate) await this.reconcile(em, String(outcome.id), false).catch(() => undefined);
    return outcome;
  }

  async find(em: EntityManager, id: string): Promise<(FlashSaleRow & { remaining: number }) | null> {
    const sale = isId(id) ? await store.saleById(em, id) : null;
    return sale ? { ...sale, remaining: await heldUnits(em, String(sale.id)) } : null;
  }

  // ------------------------------------------------------------------ entering

  /**
   * Decides an entry at once, without touching the order tables: QUEUED with a place in line, the
   * entry already made with this key (whatever became of it), or why not. With Redis one script
   * decides; when Redis cannot be reached, PostgreSQL decides (slower, never wrong).
   */
  async enter(
    em: EntityManager,
    customerId: string,
    saleId: string,
    quantity: number,
    key: string,
  ): Promise<EnterOutcome> {
    if (!isId(saleId)) throw notFound('FlashSale', saleId.slice(0, 40));
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > 1000)
      throw badInput('quantity must be between 1 and 1000', 'quantity');
    if (key.length < 1 || key.length > 200)
      throw badInput('idempotencyKey must be 1 to 200 characters', 'idempotencyKey');
    const entryId = entryIdOf(saleId, customerId, key);
    // Redis away (not connected, or the connection failed under this call): PostgreSQL decides. A
    // slow but connected Redis (a command timeout) is not a reason: under load, PostgreSQL would be
    // slower still, so that error goes to the shopper, who retries with the same key.
    if (this.gate?.connected) {
      try {
        return await this.enterRedis(em, this.gate, { saleId, customerId, quantity, key, entryId });
      } catch (err) {
        if ((err as { extensions?: unknown }).extensions || /timed out/i.test((err as Error).message))
          throw err;
      }
    }
    if (this.gate) {
      this.fellBack = true;
      this.log.debug({ saleId }, 'flash sale: Redis unavailable, deciding in PostgreSQL');
    }
    return this.enterPg(em, { saleId, customerId, quantity, key, entryId });
  }

  private async enterRedis(
    em: EntityManager,
    gate: RedisGate,
    e: { saleId: string; customerId: string; quantity: number; key: string; entryId: string },
  ): Promise<EnterOutcome> {
    for (let attempt = 0; ; attempt++) {
      const r = await gate.enter(e.saleId, { ...e, now: Date.now() });
      switch (r.kind) {
        case 'NOSALE':
          // No copy in Redis (a new or restarted Redis): rebuild it from PostgreSQL, then decide.
          if (attempt >= 3) throw new Error('flash sale: Redis copy could not be loaded');
          if (!(await store.saleById(em, e.saleId))) throw notFound('FlashSale', e.saleId);
          await this.reconcile(em, e.saleId, false);
          continue;
        case 'FROZEN':
          if (attempt > 300) throw new Error('flash sale: reconciliation takes too long');
          await sleep(10 + Math.random() * 20);
          continue;
        case 'NOT_ACTIVE':
          return notActive();
        case 'SOLD_OUT':
          return OutOfStockError.of(r.variantId, e.quantity, 0);
        case 'LIMIT':
          return limitReached(r.limit);
        case 'DUP': {
          if (r.quantity !== e.quantity) return keyReused();
          const stored = await store.entryById(em, e.entryId);
          if (stored) return store.toView(stored, await store.positionOf(em, stored));
          return this.queuedView(e, r.seq, r.head);
        }
        case 'QUEUED':
          this.onAccepted();
          return this.queuedView(e, r.seq, r.head);
      }
    }
  }

  private queuedView(
    e: { saleId: string; customerId: string; quantity: number; entryId: string },
    seq: number,
    head: number,
  ): EntryView {
    return {
      id: e.entryId,
      flashSaleId: e.saleId,
      customerId: e.customerId,
      quantity: e.quantity,
      status: FlashSaleEntryStatus.QUEUED,
      seq,
      position: Math.max(1, seq - head),
      checkoutId: null,
    };
  }

  /**
   * The same decision in PostgreSQL: the place is taken on the sale row (one conditional UPDATE,
   * which serialises the sale's entries: bound by a single row's update rate), then the entry is
   * inserted unless the customer would go over the limit; both commit together or not at all.
   */
  private async enterPg(
    em: EntityManager,
    e: { saleId: string; customerId: string; quantity: number; key: string; entryId: string },
  ): Promise<EnterOutcome> {
    const existing = (row: store.EntryRow, tx: EntityManager): Promise<EnterOutcome> =>
      Number(row.quantity) !== e.quantity
        ? Promise.resolve(keyReused())
        : store.positionOf(tx, row).then((p) => store.toView(row, p));
    // Most shoppers of a busy sale are refused: that is answered by one read, without a transaction.
    const pre = await store.precheck(em, e.saleId, e.entryId);
    if (!pre) throw notFound('FlashSale', e.saleId);
    if (pre.used) {
      const prior = await store.entryById(em, e.entryId);
      if (prior) return existing(prior, em);
    }
    const now = Date.now();
    const s = pre.sale;
    if (s.closed_at || now < s.starts_at.getTime() || now >= s.ends_at.getTime()) return notActive();
    if (s.sold_out || s.line_units + e.quantity > s.line_capacity)
      return OutOfStockError.of(String(s.variant_id), e.quantity, 0);
    return inTransaction<EnterOutcome, EnterOutcome>(em, async (tx) => {
      const place = await store.takePlace(tx, e.saleId, e.quantity);
      if (!place) {
        const sale = await store.saleById(tx, e.saleId);
        if (!sale) throw notFound('FlashSale', e.saleId);
        const now = Date.now();
        if (sale.closed_at || now < sale.starts_at.getTime() || now >= sale.ends_at.getTime())
          return notActive();
        return OutOfStockError.of(String(sale.variant_id), e.quantity, 0);
      }
      const row = await store.insertEntryWithinLimit(tx, {
        ...e,
        id: e.entryId,
        seq: place.seq,
        limit: place.limit,
      });
      if (!row) {
        const dup = await store.entryById(tx, e.entryId);
        throw new Rollback(dup ? await existing(dup, tx) : limitReached(place.limit));
      }
      this.onAccepted();
      return store.toView(row, Math.max(1, place.seq - place.head));
    });
  }

  // ------------------------------------------------------------------ reading and following entries

  /** Its customer only; anyone else reads it as not existing. */
  async entry(em: EntityManager, principal: Principal | null, id: string): Promise<EntryView | null> {
    const m = ENTRY_ID.exec(id);
    if (!principal || !m) return null;
    const row = await store.entryById(em, id);
    if (row) {
      if (String(row.customer_id) !== principal.userId) return null;
      return store.toView(
        row,
        row.status === FlashSaleEntryStatus.QUEUED ? await store.positionOf(em, row) : null,
      );
    }
    // Accepted by Redis, not yet persisted by the worker.
    const held = this.gate ? await this.gate.lookup(m[1], id).catch(() => null) : null;
    if (!held || held.customerId !== principal.userId) return null;
    return this.queuedView(
      { saleId: m[1], customerId: held.customerId, quantity: held.quantity, entryId: id },
      held.seq,
      held.head,
    );
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
   * Rebuilds a sale's Redis copy from PostgreSQL: at start, when Redis has no copy (a new or
   * restarted Redis), and after Redis was unreachable (`force`). The gate is frozen first, so no
   * decision is taken meanwhile; what the old copy's line still holds is persisted; then the copy
   * is replaced by the counts of the persisted entries. Serialised per sale across processes.
   */
  reconcile(em: EntityManager, saleId: string, force: boolean): Promise<void> {
    const running = this.reconciling.get(saleId);
    if (running) return running;
    const p = this.reconcileOnce(em, saleId, force).finally(() => this.reconciling.delete(saleId));
    this.reconciling.set(saleId, p);
    return p;
  }

  private async reconcileOnce(em: EntityManager, saleId: string, force: boolean): Promise<void> {
    const gate = this.gate!;
    for (let attempt = 1; ; attempt++) {
      const token = await inTransaction<string | null | false>(em, async (tx) => {
        await store.lockSale(tx, saleId, true);
        const sale = await store.saleById(tx, saleId);
        if (!sale || (!force && (await gate.hasCopy(saleId)))) return false;
        const frozen = await gate.freeze(saleId, 5000);
        let cursor = sale.redis_cursor;
        if (frozen)
          for (;;) {
            const read = await gate.read(saleId, cursor, 2000);
            if (read.entries.length === 0) break;
            await store.persistLine(tx, sale, read.entries, read.cursor);
            cursor = read.cursor;
          }
        return frozen;
      });
      if (token === false) return;
      const loaded = await inTransaction(em, async (tx) => {
        await store.lockSale(tx, saleId, true);
        const sale = (await store.saleById(tx, saleId))!;
        const state = await store.lineState(tx, saleId);
        return gate.load(saleId, token, {
          variant: String(sale.variant_id),
          startsAt: sale.starts_at.getTime(),
          endsAt: sale.ends_at.getTime(),
          capacity: sale.line_capacity,
          limit: sale.per_customer_limit,
          units: state.units,
          seq: Math.max(sale.line_seq, state.seq),
          head: sale.line_head,
          soldOut: sale.sold_out || sale.closed_at ? 1 : 0,
          customers: state.customers,
          entries: state.entries,
        });
      });
      if (loaded) {
        this.log.info({ saleId, force }, 'flash sale: Redis copy rebuilt from PostgreSQL');
        return;
      }
      // Another process loaded a copy meanwhile (fine unless we were asked to force one).
      if (!force && !token) return;
      if (attempt >= 5) throw new Error(`flash sale ${saleId}: Redis copy could not be rebuilt`);
    }
  }

  /** Every open sale's copy (at start, and when Redis answers again after being unreachable). */
  async reconcileAll(em: EntityManager, force: boolean): Promise<void> {
    if (!this.gate) return;
    this.fellBack = false;
    for (const sale of await store.openSales(em)) await this.reconcile(em, String(sale.id), force);
  }

  get needsReconcile(): boolean {
    return this.fellBack;
  }
}
