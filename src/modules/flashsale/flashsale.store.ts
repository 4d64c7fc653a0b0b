import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { FlashSaleEntryStatus, type EntryView, type FlashSaleRow } from './flashsale.types';

/** The only writer of flash_sale and flash_sale_entry. */

export interface EntryRow {
  id: string;
  flash_sale_id: string;
  customer_id: string;
  idempotency_key: string;
  quantity: number;
  seq: number;
  status: FlashSaleEntryStatus;
  checkout_id: string | null;
  order_id: string | null;
  settled: boolean;
}

/** An accepted entry as the Redis line carries it. */
export interface LineEntry {
  id: string;
  customerId: string;
  key: string;
  quantity: number;
  seq: number;
  acceptedAt: Date;
}

export const toView = (r: EntryRow, position: number | null): EntryView => ({
  id: r.id,
  flashSaleId: String(r.flash_sale_id),
  customerId: String(r.customer_id),
  quantity: Number(r.quantity),
  status: r.status,
  seq: Number(r.seq),
  position: r.status === FlashSaleEntryStatus.QUEUED ? position : null,
  checkoutId: r.checkout_id ? String(r.checkout_id) : null,
});

/**
 * The sale's batch lock: serialises the workers' batches (serve, follow, finish) of one sale across
 * processes for the rest of the transaction; `wait` false answers at once whether it was free.
 */
export async function lockSale(tx: EntityManager, saleId: string, wait: boolean): Promise<boolean> {
  return advisoryLock(tx, `flash_sale:${saleId}`, wait);
}

/**
 * The sale's line lock: serialises persisting the Redis line and rebuilding the Redis copy. Apart
 * from the batch lock, so a long batch of orders never delays a shopper's acceptance from reaching
 * PostgreSQL (the two touch different things: the line's cursor and counts, and the line's head).
 */
export async function lockLine(tx: EntityManager, saleId: string, wait: boolean): Promise<boolean> {
  return advisoryLock(tx, `flash_sale_line:${saleId}`, wait);
}

async function advisoryLock(tx: EntityManager, name: string, wait: boolean): Promise<boolean> {
  const [r] = await sqlAll<{ ok: boolean | null }>(
    tx,
    wait
      ? `select true as ok from (select pg_advisory_xact_lock(hashtextextended($1, 0))) l`
      : `select pg_try_advisory_xact_lock(hashtextextended($1, 0)) as ok`,
    [name],
  );
  return !!r?.ok;
}

export async function insertSale(
  tx: EntityManager,
  s: {
    variantId: string;
    merchantId: string;
    price: number;
    quantity: number;
    perCustomerLimit: number;
    startsAt: Date;
    endsAt: Date;
    lineCapacity: number;
  },
): Promise<FlashSaleRow | null> {
  const [row] = await sqlAll<FlashSaleRow>(
    tx,
    `insert into flash_sale (variant_id, merchant_id, price, quantity, per_customer_limit, starts_at, ends_at, line_capacity)
     values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (variant_id, starts_at, ends_at) do nothing returning *`,
    [
      s.variantId,
      s.merchantId,
      s.price,
      s.quantity,
      s.perCustomerLimit,
      s.startsAt,
      s.endsAt,
      s.lineCapacity,
    ],
  );
  return row ?? null;
}

export async function saleById(em: EntityManager, id: string): Promise<FlashSaleRow | null> {
  const [row] = await sqlAll<FlashSaleRow>(em, 'select * from flash_sale where id = $1', [id]);
  return row ?? null;
}

export async function saleByWindow(
  em: EntityManager,
  variantId: string,
  startsAt: Date,
  endsAt: Date,
): Promise<FlashSaleRow | null> {
  const [row] = await sqlAll<FlashSaleRow>(
    em,
    'select * from flash_sale where variant_id = $1 and starts_at = $2 and ends_at = $3',
    [variantId, startsAt, endsAt],
  );
  return row ?? null;
}

/** Sales a worker still has to look after: not closed, and starting soon or started. */
export async function openSales(em: EntityManager): Promise<FlashSaleRow[]> {
  return sqlAll<FlashSaleRow>(
    em,
    `select * from flash_sale where closed_at is null and starts_at <= now() + interval '1 minute' order by id`,
  );
}

export async function entryById(em: EntityManager, id: string): Promise<EntryRow | null> {
  const [row] = await sqlAll<EntryRow>(em, 'select * from flash_sale_entry where id = $1', [id]);
  return row ?? null;
}

/** Every entry id of a sale. */
export async function entryIds(em: EntityManager, saleId: string): Promise<string[]> {
  const rows = await sqlAll<{ id: string }>(em, 'select id from flash_sale_entry where flash_sale_id = $1', [
    saleId,
  ]);
  return rows.map((r) => r.id);
}

/** Place in line of a QUEUED entry: the QUEUED entries before it, plus one. */
export async function positionOf(em: EntityManager, e: EntryRow): Promise<number> {
  const [r] = await sqlAll<{ n: number }>(
    em,
    `select count(*)::int + 1 as n from flash_sale_entry
      where flash_sale_id = $1 and status = 'QUEUED' and (seq, id) < ($2, $3)`,
    [e.flash_sale_id, e.seq, e.id],
  );
  return r.n;
}

// ------------------------------------------------------------------ the decision without Redis

/**
 * Takes a place in line on the sale row: one conditional UPDATE (the window, the line's capacity,
 * not sold out). Locks the row until commit, so the customer check that follows sees every entry
 * committed before it. Null: refused (the caller reads the sale to say why).
 */
export async function takePlace(
  tx: EntityManager,
  saleId: string,
  quantity: number,
): Promise<{ seq: number; head: number; limit: number } | null> {
  const [r] = await sqlAll<{ line_seq: number; line_head: number; per_customer_limit: number }>(
    tx,
    `update flash_sale set line_units = line_units + $2, line_seq = line_seq + 1, pg_decided = pg_decided + 1
      where id = $1 and closed_at is null and not sold_out and now() >= starts_at and now() < ends_at
        and line_units + $2 <= line_capacity
      returning line_seq, line_head, per_customer_limit`,
    [saleId, quantity],
  );
  return r ? { seq: r.line_seq, head: r.line_head, limit: r.per_customer_limit } : null;
}

/** Inserts the entry unless the customer would go over the limit or the key was used (null then). */
export async function insertEntryWithinLimit(
  tx: EntityManager,
  e: {
    id: string;
    saleId: string;
    customerId: string;
    key: string;
    quantity: number;
    seq: number;
    limit: number;
  },
): Promise<EntryRow | null> {
  const [row] = await sqlAll<EntryRow>(
    tx,
    `insert into flash_sale_entry (id, flash_sale_id, customer_id, idempotency_key, quantity, seq, status)
     select $1, $2, $3, $4, $5, $6, 'QUEUED'
      where (select coalesce(sum(quantity), 0) from flash_sale_entry where flash_sale_id = $2 and customer_id = $3) + $5 <= $7
     on conflict do nothing returning *`,
    [e.id, e.saleId, e.customerId, e.key, e.quantity, e.seq, e.limit],
  );
  return row ?? null;
}

// ------------------------------------------------------------------ the worker

/** What became of a batch of the line (`persistLine`). */
export interface LinePersistOutcome {
  /** STORED; CLOSED (nothing stored); STALE: the stream position is not the one given (nothing stored). */
  outcome: 'STORED' | 'CLOSED' | 'STALE';
  stored: number;
  /** Entries not stored: their customer over the limit, or the line over its capacity. */
  refused: string[];
  /** The sale's stream position now (after the batch, when STORED). */
  cursor: string;
  /** flash_sale.pg_decided and sold_out, for the checks of the Redis copy. */
  pgDecided: number;
  soldOut: boolean;
}

/**
 * Persists entries accepted by Redis, in the order of the line, and moves the sale's stream
 * position from `from` (null: wherever it is) to `to`: one statement, the function
 * flash_sale_persist_line (migrations/Migration20261204200000_flash_sale_persist_line.ts), which
 * takes the line lock and the sale row and does the rest in one round trip (outside a
 * transaction: in one commit). PostgreSQL has the last word: an entry already stored (same id:
 * same customer and key) is skipped, so a batch read twice stores nothing twice; an entry that
 * would take its customer over the limit, or the line over its capacity, is not stored but
 * `refused` (possible only while Redis's counts are behind PostgreSQL's, e.g. just after a
 * rebuild, when a decision taken without Redis commits late); its shopper, not answered yet, is
 * then decided by PostgreSQL. Null: no such sale.
 */
export async function persistLine(
  em: EntityManager,
  saleId: string,
  from: string | null,
  entries: LineEntry[],
  to: string,
): Promise<LinePersistOutcome | null> {
  const [r] = await sqlAll<{
    outcome: LinePersistOutcome['outcome'];
    stored: number;
    refused: string[];
    cursor_now: string;
    pg_decided: number;
    sold_out: boolean;
  }>(
    em,
    `select * from flash_sale_persist_line($1, $2, $3, $4::text[], $5::bigint[], $6::text[], $7::int[], $8::int[], $9::timestamptz[])`,
    [
      saleId,
      from,
      to,
      entries.map((e) => e.id),
      entries.map((e) => e.customerId),
      entries.map((e) => e.key),
      entries.map((e) => e.quantity),
      entries.map((e) => e.seq),
      entries.map((e) => e.acceptedAt.toISOString()),
    ],
  );
  if (!r) return null;
  return {
    outcome: r.outcome,
    stored: Number(r.stored),
    refused: r.refused ?? [],
    cursor: r.cursor_now,
    pgDecided: Number(r.pg_decided),
    soldOut: r.sold_out,
  };
}

/** The first QUEUED entries, in line order. */
export async function lineHead(tx: EntityManager, saleId: string, limit: number): Promise<EntryRow[]> {
  return sqlAll<EntryRow>(
    tx,
    `select * from flash_sale_entry where flash_sale_id = $1 and status = 'QUEUED' order by seq, id limit $2`,
    [saleId, limit],
  );
}

export async function markOrdered(
  tx: EntityManager,
  items: { entryId: string; checkoutId: string; orderId: string }[],
): Promise<EntryRow[]> {
  return sqlAll<EntryRow>(
    tx,
    `update flash_sale_entry e set status = 'ORDERED', checkout_id = u.c, order_id = u.o, updated_at = now()
       from unnest($1::text[], $2::bigint[], $3::bigint[]) as u(id, c, o)
      where e.id = u.id and e.status = 'QUEUED' returning e.*`,
    [items.map((i) => i.entryId), items.map((i) => i.checkoutId), items.map((i) => i.orderId)],
  );
}

/** Moves the line's head past every served entry; returns it. */
export async function advanceHead(tx: EntityManager, saleId: string): Promise<number> {
  const [r] = await sqlAll<{ line_head: number }>(
    tx,
    `update flash_sale s set line_head = greatest(s.line_head,
            coalesce((select min(seq) - 1 from flash_sale_entry e where e.flash_sale_id = s.id and e.status = 'QUEUED'), s.line_seq))
      where s.id = $1 returning line_head`,
    [saleId],
  );
  return r.line_head;
}

/** ORDERED entries whose order may still be paid or cancelled. */
export async function openOrders(em: EntityManager, saleId: string): Promise<EntryRow[]> {
  return sqlAll<EntryRow>(
    em,
    `select * from flash_sale_entry where flash_sale_id = $1 and status = 'ORDERED' and not settled`,
    [saleId],
  );
}

/** Paid (or later): settled. Cancelled unpaid: EXPIRED (its units went back to the hold). */
export async function settleEntries(
  em: EntityManager,
  paid: string[],
  expired: string[],
): Promise<EntryRow[]> {
  if (paid.length)
    await sqlAll(
      em,
      `update flash_sale_entry set settled = true, updated_at = now() where id = any($1::text[]) and status = 'ORDERED'`,
      [paid],
    );
  return expired.length
    ? sqlAll<EntryRow>(
        em,
        `update flash_sale_entry set status = 'EXPIRED', settled = true, updated_at = now()
          where id = any($1::text[]) and status = 'ORDERED' returning *`,
        [expired],
      )
    : [];
}

/** Every QUEUED entry of the sale becomes SOLD_OUT. */
export async function soldOutQueued(tx: EntityManager, saleId: string): Promise<EntryRow[]> {
  return sqlAll<EntryRow>(
    tx,
    `update flash_sale_entry set status = 'SOLD_OUT', updated_at = now()
      where flash_sale_id = $1 and status = 'QUEUED' returning *`,
    [saleId],
  );
}

export async function markSale(
  tx: EntityManager,
  saleId: string,
  change: { soldOut?: boolean; closed?: boolean },
): Promise<void> {
  await sqlAll(
    tx,
    `update flash_sale set sold_out = sold_out or $2, closed_at = case when $3 then now() else closed_at end where id = $1`,
    [saleId, !!change.soldOut, !!change.closed],
  );
}

/** What Redis must hold for a sale, rebuilt from PostgreSQL. */
export async function lineState(
  em: EntityManager,
  saleId: string,
): Promise<{ units: number; seq: number; customers: [string, number][]; entries: [string, string][] }> {
  const entries = await sqlAll<{ id: string; customer_id: string; quantity: number; seq: number }>(
    em,
    'select id, customer_id, quantity, seq from flash_sale_entry where flash_sale_id = $1',
    [saleId],
  );
  const perCustomer = new Map<string, number>();
  let units = 0;
  let seq = 0;
  for (const e of entries) {
    const c = String(e.customer_id);
    perCustomer.set(c, (perCustomer.get(c) ?? 0) + Number(e.quantity));
    units += Number(e.quantity);
    seq = Math.max(seq, Number(e.seq));
  }
  return {
    units,
    seq,
    customers: [...perCustomer],
    entries: entries.map((e) => [e.id, `${e.customer_id}:${e.quantity}:${e.seq}`]),
  };
}
