import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { OutOfStockError } from '../inventory/inventory.errors';
import type { Entering, EnterOutcome, FlashSaleCore } from './flashsale.deps';
import { enterPg } from './flashsale.enter-pg';
import { keyReused, limitReached, notActive, unconfirmed } from './flashsale.errors';
import type { RedisGate } from './flashsale.redis';
import * as store from './flashsale.store';
import { FlashSaleEntryStatus, type EntryView } from './flashsale.types';

/*
 * Entering a sale: the entry id a key names (so a retry is the same entry), the choice between the
 * Redis gate and PostgreSQL, and the Redis path up to the shopper's answer, which waits until the
 * accepted entry is durable in PostgreSQL. The decision without Redis is in flashsale.enter-pg.ts.
 */

/** The entry id: derived from the sale, the customer and the key, so a retry names the same entry. */
export const entryIdOf = (saleId: string, customerId: string, key: string): string =>
  `${saleId}-${createHash('sha256').update(`${saleId}\n${customerId}\n${key}`).digest('base64url').slice(0, 16)}`;

const ENTRY_ID = /^(\d{1,19})-[A-Za-z0-9_-]{16}$/;

/** Whether `id` has the shape entryIdOf gives (anything else names no entry). */
export const isEntryId = (id: string): boolean => ENTRY_ID.test(id);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Decides an entry at once, without touching the order tables: QUEUED with a place in line, the
 * entry already made with this key (whatever became of it), or why not. With Redis one script
 * decides; when Redis cannot be reached, PostgreSQL decides (slower, never wrong).
 */
export async function enterSale(
  core: FlashSaleCore,
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
  return decide(core, em, { saleId, customerId, quantity, key, entryId }, 0);
}

async function decide(
  core: FlashSaleCore,
  em: EntityManager,
  e: Entering,
  depth: number,
): Promise<EnterOutcome> {
  // Redis away (not connected, or the connection failed under this call): PostgreSQL decides. A
  // slow but connected Redis (a command timeout) is not a reason: under load, PostgreSQL would be
  // slower still, so that error goes to the shopper, who retries with the same key.
  if (core.gate?.connected) {
    try {
      return await enterRedis(core, em, core.gate, e, depth);
    } catch (err) {
      if ((err as { extensions?: unknown }).extensions || /timed out/i.test((err as Error).message))
        throw err;
    }
  }
  if (core.gate)
    core.log.debug({ saleId: e.saleId }, 'flash sale: Redis unavailable, deciding in PostgreSQL');
  return enterPg(core, em, e);
}

async function enterRedis(
  core: FlashSaleCore,
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
        await core.reconcile(em, e.saleId, false);
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
        if (stored) return viewOf(em, stored);
        return confirm(core, em, e, r, depth); // accepted before, not yet persisted
      }
      case 'QUEUED':
        return confirm(core, em, e, r, depth);
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
async function confirm(
  core: FlashSaleCore,
  em: EntityManager,
  e: Entering,
  r: { seq: number; head: number; epoch: string },
  depth: number,
): Promise<EnterOutcome> {
  core.onAccepted(e.saleId);
  const deadline = Date.now() + 10 * core.settings.acceptWaitMs;
  for (;;) {
    const signal = await core.waiters.wait(e.saleId, e.entryId, r.epoch, r.seq, core.settings.acceptWaitMs);
    if (signal === 'stored') return queuedView(e, r.seq, r.head);
    if (signal === 'refused') {
      core.rebuildAll = true; // Redis counted what PostgreSQL refused: its copy is wrong
      return enterPg(core, em, e);
    }
    const row = await store.entryById(em, e.entryId);
    if (row) return viewOf(em, row);
    const gate = core.gate!;
    const pending = gate.connected && (await gate.pending(e.saleId, e.entryId, r.epoch).catch(() => false));
    if (pending) {
      if (Date.now() < deadline) continue;
      return unconfirmed(); // Redis still has it; the same key later finds it persisted
    }
    // Lost with the Redis that accepted it: decided again.
    core.log.warn(
      { saleId: e.saleId, entryId: e.entryId },
      'flash sale: accepted entry lost with Redis; deciding again',
    );
    if (depth >= 3) return unconfirmed();
    return decide(core, em, e, depth + 1);
  }
}

/** A stored entry as shown, with its place in line while it is QUEUED. */
export async function viewOf(em: EntityManager, row: store.EntryRow): Promise<EntryView> {
  return store.toView(
    row,
    row.status === FlashSaleEntryStatus.QUEUED ? await store.positionOf(em, row) : null,
  );
}

function queuedView(
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
