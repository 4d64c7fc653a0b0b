import type { EntityManager } from '@mikro-orm/postgresql';
import { inTransaction, Rollback } from '../../db/transaction';
import { notFound } from '../../shared/errors';
import { OutOfStockError } from '../inventory/inventory.errors';
import type { Entering, EnterOutcome, FlashSaleCore, PgDecisions } from './flashsale.deps';
import { keyReused, limitReached, notActive } from './flashsale.errors';
import { PrecheckBatcher } from './flashsale.precheck';
import * as store from './flashsale.store';
import { FlashSaleEntryStatus, type FlashSaleRow } from './flashsale.types';

/*
 * Entering a sale when Redis cannot decide: PostgreSQL takes the same decision, on the sale row.
 * Most shoppers of a busy sale are refused before any transaction (a full line remembered in
 * memory, or one shared read); the acceptances of a sale take turns in this process so that a
 * crowd waiting for the row lock does not hold every pool connection.
 */

/** A process's empty memory of decisions without Redis. */
export const pgDecisions = (): PgDecisions => ({
  fullLines: new Map(),
  prechecks: new PrecheckBatcher(),
  turns: new Map(),
});

/**
 * The same decision in PostgreSQL: the place is taken on the sale row (one conditional UPDATE,
 * which serialises the sale's entries: bound by a single row's update rate), then the entry is
 * inserted unless the customer would go over the limit; both commit together or not at all.
 */
export async function enterPg(core: FlashSaleCore, em: EntityManager, e: Entering): Promise<EnterOutcome> {
  const { fullLines, prechecks } = core.pgDecisions;
  const existing = (row: store.EntryRow, tx: EntityManager): Promise<EnterOutcome> =>
    Number(row.quantity) !== e.quantity
      ? Promise.resolve(keyReused())
      : store.positionOf(tx, row).then((p) => store.toView(row, p));
  // A full line is final (entries are only ever added while there is room): every shopper who is
  // not in it is refused from memory, without a query.
  const full = fullLines.get(e.saleId);
  if (full && !full.ids.has(e.entryId)) {
    const at = Date.now();
    if (at < full.startsAt || at >= full.endsAt) return notActive();
    return OutOfStockError.of(full.variantId, e.quantity, 0);
  }
  // Most shoppers of a busy sale are refused: that is answered by one read, without a transaction,
  // shared by every shopper of the sale arriving in the same moment.
  const pre = await prechecks.ask(em, e.saleId, e.entryId, e.customerId);
  if (!pre) throw notFound('FlashSale', e.saleId);
  if (pre.used) {
    const prior = await store.entryById(em, e.entryId);
    if (prior) return existing(prior, em);
  }
  const now = Date.now();
  const s = pre.sale;
  if (s.closed_at || now < s.starts_at.getTime() || now >= s.ends_at.getTime()) return notActive();
  if (s.sold_out || s.line_units + e.quantity > s.line_capacity) {
    if (s.line_units >= s.line_capacity && s.line_capacity <= 100_000)
      await rememberFull(core.pgDecisions, em, s);
    return OutOfStockError.of(String(s.variant_id), e.quantity, 0);
  }
  if (pre.mine + e.quantity > s.per_customer_limit) return limitReached(s.per_customer_limit);
  // Acceptances of one sale take turns on its row anyway: they queue here, two at a time, rather
  // than each holding a pool connection while it waits for the row lock (which would leave none
  // for the rest of the API while a crowd enters).
  const outcome = await rowTurns(core.pgDecisions, e.saleId, async (waited) => {
    if (waited) {
      // The line may have filled, or the customer's limit been reached by another key, while this
      // one waited: memory or a read answers that, not a transaction.
      const full = fullLines.get(e.saleId);
      if (full && !full.ids.has(e.entryId)) {
        const at = Date.now();
        if (at < full.startsAt || at >= full.endsAt) return notActive();
        return OutOfStockError.of(full.variantId, e.quantity, 0);
      }
      const again = await prechecks.ask(em, e.saleId, e.entryId, e.customerId);
      const now = again?.sale;
      if (now && !again.used && (now.sold_out || now.line_units + e.quantity > now.line_capacity))
        return OutOfStockError.of(String(now.variant_id), e.quantity, 0);
      if (now && !again.used && again.mine + e.quantity > now.per_customer_limit)
        return limitReached(now.per_customer_limit);
    }
    return acceptPg(em, e, existing);
  });
  // After the commit: a worker woken earlier would not see the entry yet, and sleep. With Redis,
  // the persister checks the sale's copy too: it does not count this decision, so it is rebuilt.
  if ('status' in outcome && outcome.status === FlashSaleEntryStatus.QUEUED) {
    core.onPersisted();
    if (core.gate) core.onAccepted(e.saleId);
  }
  return outcome;
}

/** Remembers a full line with its entries (read after the count that said full: all of them). */
async function rememberFull(pg: PgDecisions, em: EntityManager, s: FlashSaleRow): Promise<void> {
  if (pg.fullLines.has(String(s.id))) return;
  const ids = await store.entryIds(em, String(s.id));
  pg.fullLines.set(String(s.id), {
    ids: new Set(ids),
    startsAt: s.starts_at.getTime(),
    endsAt: s.ends_at.getTime(),
    variantId: String(s.variant_id),
  });
}

/** Runs `fn` when fewer than two of this sale's acceptances without Redis are under way here. */
async function rowTurns<T>(pg: PgDecisions, saleId: string, fn: (waited: boolean) => Promise<T>): Promise<T> {
  let turn = pg.turns.get(saleId);
  if (!turn) {
    turn = { running: 0, queue: [] };
    pg.turns.set(saleId, turn);
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
    else if (--t.running === 0) pg.turns.delete(saleId);
  }
}

function acceptPg(
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
