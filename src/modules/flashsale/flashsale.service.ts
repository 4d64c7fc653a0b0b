import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { canManage, type Principal } from '../../shared/auth';
import { ErrorCode, UserError, type Result } from '../../shared/error-result';
import { keyReused as keyReusedFor } from '../../shared/idempotency';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { parseMoney } from '../../shared/money';
import { OutOfStockError } from '../inventory/inventory.errors';
import { heldUnits, holdForSale } from '../inventory/inventory.store';
import type { RedisGate } from './flashsale.redis';
import * as store from './flashsale.store';
import { DurableWaiters } from './flashsale.durable';
import { PrecheckBatcher } from './flashsale.precheck';
import { FlashSaleEntryStatus, type EntryView, type FlashSaleRow } from './flashsale.types';
import { EntryStream, UpdateHub, type LinePersisted, type UpdateBus } from './flashsale.updates';

export interface FlashSaleSettings {
  /** FLASH_SALE_PAYMENT_WINDOW_SECONDS: how long a flash-sale order waits for payment. */
  paymentWindowSeconds: number;
  /** FLASH_SALE_WAITLIST_PERCENT: the line accepts quantity × (1 + this/100) units. */
  waitlistPercent: number;
  /** FLASH_SALE_BATCH_SIZE: entries turned into orders per transaction. */
  batchSize: number;
  /** FLASH_SALE_WORKER_INTERVAL_MS: how often an idle worker looks for work. */
  workerIntervalMs: number;
  /**
   * FLASH_SALE_ACCEPT_WAIT_MS: how long an accepted shopper waits for a persist notification
   * before checking PostgreSQL and Redis itself (normally the notification comes in milliseconds).
   */
  acceptWaitMs: number;
}

export type EnterOutcome = Result<EntryView, UserError | OutOfStockError>;

interface Entering {
  saleId: string;
  customerId: string;
  quantity: number;
  key: string;
  entryId: string;
}

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
/** The entry's id is derived from its key, so the entry (or Redis's line) is the key's record (docs/architecture.md). */
const keyReused = () => keyReusedFor('a different entry');
const unconfirmed = () =>
  UserError.of(
    ErrorCode.SERVICE_DEGRADED,
    'Your entry could not be confirmed yet; please retry with the same idempotency key',
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
  /** Shoppers whose accepted entry is on its way from the Redis line to PostgreSQL. */
  readonly waiters = new DurableWaiters();
  private readonly reconciling = new Map<string, Promise<void>>();
  /** Sales whose line is full (decisions without Redis), with every entry id in the line. */
  private readonly fullLines = new Map<
    string,
    { ids: Set<string>; startsAt: number; endsAt: number; variantId: string }
  >();
  /** The read before a decision without Redis, shared by the shoppers of a sale arriving together. */
  private readonly prechecks = new PrecheckBatcher();
  /** Acceptances without Redis under way in this process, by sale, and those waiting their turn. */
  private readonly turns = new Map<string, { running: number; queue: (() => void)[] }>();
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
    private readonly log: Logger,
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
    if (this.gate?.connected) await this.reconcile(em, String(outcome.id), false).catch(() => undefined);
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
    return this.decide(em, { saleId, customerId, quantity, key, entryId }, 0);
  }

  private async decide(em: EntityManager, e: Entering, depth: number): Promise<EnterOutcome> {
    // Redis away (not connected, or the connection failed under this call): PostgreSQL decides. A
    // slow but connected Redis (a command timeout) is not a reason: under load, PostgreSQL would be
    // slower still, so that error goes to the shopper, who retries with the same key.
    if (this.gate?.connected) {
      try {
        return await this.enterRedis(em, this.gate, e, depth);
      } catch (err) {
        if ((err as { extensions?: unknown }).extensions || /timed out/i.test((err as Error).message))
          throw err;
      }
    }
    if (this.gate)
      this.log.debug({ saleId: e.saleId }, 'flash sale: Redis unavailable, deciding in PostgreSQL');
    return this.enterPg(em, e);
  }

  private async enterRedis(
    em: EntityManager,
    gate: RedisGate,
    e: Entering,
    depth: number,
  ): Promise<EnterOutcome> {
    for (let attempt = 0; ; attempt++) {
      const r = await gate.enter(e.saleId, e);
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
          if (stored) return this.viewOf(em, stored);
          return this.confirm(em, e, r, depth); // accepted before, not yet persisted
        }
        case 'QUEUED':
          return this.confirm(em, e, r, depth);
      }
    }
  }

  /**
   * Answers an entry Redis accepted once it is in PostgreSQL: QUEUED is never said of an entry that
   * a dying Redis could take with it. The persister (of any process) announces what it stored;
   * without news in time, PostgreSQL is read, and Redis asked whether the entry still waits in the
   * line of the copy that accepted it. An entry lost with Redis (or refused when persisted) is
   * decided again, by Redis's new copy or by PostgreSQL: the shopper gets a definite answer.
   */
  private async confirm(
    em: EntityManager,
    e: Entering,
    r: { seq: number; head: number; epoch: string },
    depth: number,
  ): Promise<EnterOutcome> {
    this.onAccepted(e.saleId);
    const deadline = Date.now() + 10 * this.settings.acceptWaitMs;
    for (;;) {
      const signal = await this.waiters.wait(e.saleId, e.entryId, r.epoch, r.seq, this.settings.acceptWaitMs);
      if (signal === 'stored') return this.queuedView(e, r.seq, r.head);
      if (signal === 'refused') {
        this.rebuildAll = true; // Redis counted what PostgreSQL refused: its copy is wrong
        return this.enterPg(em, e);
      }
      const row = await store.entryById(em, e.entryId);
      if (row) return this.viewOf(em, row);
      const gate = this.gate!;
      const pending = gate.connected && (await gate.pending(e.saleId, e.entryId, r.epoch).catch(() => false));
      if (pending) {
        if (Date.now() < deadline) continue;
        return unconfirmed(); // Redis still has it; the same key later finds it persisted
      }
      // Lost with the Redis that accepted it: decided again.
      this.log.warn(
        { saleId: e.saleId, entryId: e.entryId },
        'flash sale: accepted entry lost with Redis; deciding again',
      );
      if (depth >= 3) return unconfirmed();
      return this.decide(em, e, depth + 1);
    }
  }

  private async viewOf(em: EntityManager, row: store.EntryRow): Promise<EntryView> {
    return store.toView(
      row,
      row.status === FlashSaleEntryStatus.QUEUED ? await store.positionOf(em, row) : null,
    );
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
  private async enterPg(em: EntityManager, e: Entering): Promise<EnterOutcome> {
    const existing = (row: store.EntryRow, tx: EntityManager): Promise<EnterOutcome> =>
      Number(row.quantity) !== e.quantity
        ? Promise.resolve(keyReused())
        : store.positionOf(tx, row).then((p) => store.toView(row, p));
    // A full line is final (entries are only ever added while there is room): every shopper who is
    // not in it is refused from memory, without a query.
    const full = this.fullLines.get(e.saleId);
    if (full && !full.ids.has(e.entryId)) {
      const at = Date.now();
      if (at < full.startsAt || at >= full.endsAt) return notActive();
      return OutOfStockError.of(full.variantId, e.quantity, 0);
    }
    // Most shoppers of a busy sale are refused: that is answered by one read, without a transaction,
    // shared by every shopper of the sale arriving in the same moment.
    const pre = await this.prechecks.ask(em, e.saleId, e.entryId, e.customerId);
    if (!pre) throw notFound('FlashSale', e.saleId);
    if (pre.used) {
      const prior = await store.entryById(em, e.entryId);
      if (prior) return existing(prior, em);
    }
    const now = Date.now();
    const s = pre.sale;
    if (s.closed_at || now < s.starts_at.getTime() || now >= s.ends_at.getTime()) return notActive();
    if (s.sold_out || s.line_units + e.quantity > s.line_capacity) {
      if (s.line_units >= s.line_capacity && s.line_capacity <= 100_000) await this.rememberFull(em, s);
      return OutOfStockError.of(String(s.variant_id), e.quantity, 0);
    }
    if (pre.mine + e.quantity > s.per_customer_limit) return limitReached(s.per_customer_limit);
    // Acceptances of one sale take turns on its row anyway: they queue here, two at a time, rather
    // than each holding a pool connection while it waits for the row lock (which would leave none
    // for the rest of the API while a crowd enters).
    const outcome = await this.rowTurns(e.saleId, async (waited) => {
      if (waited) {
        // The line may have filled, or the customer's limit been reached by another key, while this
        // one waited: memory or a read answers that, not a transaction.
        const full = this.fullLines.get(e.saleId);
        if (full && !full.ids.has(e.entryId)) {
          const at = Date.now();
          if (at < full.startsAt || at >= full.endsAt) return notActive();
          return OutOfStockError.of(full.variantId, e.quantity, 0);
        }
        const again = await this.prechecks.ask(em, e.saleId, e.entryId, e.customerId);
        const now = again?.sale;
        if (now && !again.used && (now.sold_out || now.line_units + e.quantity > now.line_capacity))
          return OutOfStockError.of(String(now.variant_id), e.quantity, 0);
        if (now && !again.used && again.mine + e.quantity > now.per_customer_limit)
          return limitReached(now.per_customer_limit);
      }
      return this.acceptPg(em, e, existing);
    });
    // After the commit: a worker woken earlier would not see the entry yet, and sleep. With Redis,
    // the persister checks the sale's copy too: it does not count this decision, so it is rebuilt.
    if ('status' in outcome && outcome.status === FlashSaleEntryStatus.QUEUED) {
      this.onPersisted();
      if (this.gate) this.onAccepted(e.saleId);
    }
    return outcome;
  }

  /** Remembers a full line with its entries (read after the count that said full: all of them). */
  private async rememberFull(em: EntityManager, s: FlashSaleRow): Promise<void> {
    if (this.fullLines.has(String(s.id))) return;
    const ids = await store.entryIds(em, String(s.id));
    this.fullLines.set(String(s.id), {
      ids: new Set(ids),
      startsAt: s.starts_at.getTime(),
      endsAt: s.ends_at.getTime(),
      variantId: String(s.variant_id),
    });
  }

  /** Runs `fn` when fewer than two of this sale's acceptances without Redis are under way here. */
  private async rowTurns<T>(saleId: string, fn: (waited: boolean) => Promise<T>): Promise<T> {
    let turn = this.turns.get(saleId);
    if (!turn) {
      turn = { running: 0, queue: [] };
      this.turns.set(saleId, turn);
    }
    const t = turn;
    const waited = t.running >= 2;
    if (waited) await new Promise<void>((r) => t.queue.push(r));
    else t.running++;
    try {
      return await fn(waited);
    } finally {
      const next = t.queue.shift();
      if (next) next();
      else if (--t.running === 0) this.turns.delete(saleId);
    }
  }

  private acceptPg(
    em: EntityManager,
    e: Entering,
    existing: (row: store.EntryRow, tx: EntityManager) => Promise<EnterOutcome>,
  ): Promise<EnterOutcome> {
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
      return store.toView(row, Math.max(1, place.seq - place.head));
    });
  }

  // ------------------------------------------------------------------ reading and following entries

  /**
   * Its customer only; anyone else reads it as not existing. PostgreSQL only: an entry is shown
   * (and its shopper told QUEUED) once it is stored there, never while only Redis has it.
   */
  async entry(em: EntityManager, principal: Principal | null, id: string): Promise<EntryView | null> {
    if (!principal || !ENTRY_ID.test(id)) return null;
    const row = await store.entryById(em, id);
    if (!row || String(row.customer_id) !== principal.userId) return null;
    return this.viewOf(em, row);
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
   * Rebuilds a sale's Redis copy from PostgreSQL: when Redis has no copy (a new or restarted Redis),
   * when PostgreSQL decided entries since the copy was built, and after Redis was unreachable
   * (`force`). The gate is frozen first, so no decision is taken meanwhile; what the old copy's line
   * still holds is persisted; then the copy is replaced by the counts of the persisted entries.
   * Serialised per sale across processes (the line lock).
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
      const frozen = await inTransaction(em, async (tx) => {
        await store.lockLine(tx, saleId, true);
        const sale = await store.saleById(tx, saleId);
        if (!sale || (!force && (await gate.hasCopy(saleId)))) return null;
        const token = await gate.freeze(saleId, 5000);
        let cursor = sale.redis_cursor;
        let streamId = '';
        const persisted: LinePersisted[] = [];
        if (token)
          for (;;) {
            const read = await gate.read(saleId, cursor, 2000);
            streamId = read.streamId;
            if (read.entries.length === 0) break;
            const out = await store.persistLine(tx, saleId, cursor, read.entries, read.cursor);
            if (out?.outcome === 'CLOSED') break; // nobody can be served any more
            // Under the line lock since the sale was read: the position is ours (STALE cannot be).
            if (out?.outcome !== 'STORED') throw new Error(`flash sale ${saleId}: line not persisted`);
            const { refused } = out;
            persisted.push({
              saleId,
              epoch: read.epoch!,
              upTo: read.entries[read.entries.length - 1].seq,
              refused,
            });
            cursor = read.cursor;
          }
        return { token, streamId, persisted };
      });
      if (!frozen) return;
      // Shoppers waiting on the old copy's entries: they are in PostgreSQL now.
      for (const p of frozen.persisted) await this.announcePersisted(p);
      const epoch = await inTransaction(em, async (tx) => {
        await store.lockLine(tx, saleId, true);
        // The sale (with pg_decided) before the entries: a decision committing in between is then
        // counted in the entries but not in pgDecided, which only causes one rebuild more; the
        // other order could count it in pgDecided and miss it in the copy for good.
        const sale = (await store.saleById(tx, saleId))!;
        const state = await store.lineState(tx, saleId);
        return gate.load(saleId, frozen.token, frozen.streamId, {
          variant: String(sale.variant_id),
          startsAt: sale.starts_at.getTime(),
          endsAt: sale.ends_at.getTime(),
          capacity: sale.line_capacity,
          limit: sale.per_customer_limit,
          units: state.units,
          seq: Math.max(sale.line_seq, state.seq),
          head: sale.line_head,
          soldOut: sale.sold_out || sale.closed_at ? 1 : 0,
          pgDecided: sale.pg_decided,
          customers: state.customers,
          entries: state.entries,
        });
      });
      if (epoch) {
        this.log.info({ saleId, force }, 'flash sale: Redis copy rebuilt from PostgreSQL');
        // Shoppers still waiting on an older copy: theirs may be gone with it; they look again.
        await this.announcePersisted({ saleId, epoch, upTo: 0, refused: [] });
        return;
      }
      // Another process loaded a copy meanwhile (fine unless we were asked to force one).
      if (!force && !frozen.token) return;
      if (attempt >= 5) throw new Error(`flash sale ${saleId}: Redis copy could not be rebuilt`);
    }
  }

  /**
   * Every open sale's copy (when Redis answers again after being unreachable). The flag is cleared
   * only when every copy was rebuilt, so a rebuild that failed is tried again by the next round.
   */
  async reconcileAll(em: EntityManager, force: boolean): Promise<void> {
    if (!this.gate) return;
    this.rebuildAll = false;
    try {
      for (const sale of await store.openSales(em)) await this.reconcile(em, String(sale.id), force);
    } catch (err) {
      this.rebuildAll = true;
      throw err;
    }
  }
}
