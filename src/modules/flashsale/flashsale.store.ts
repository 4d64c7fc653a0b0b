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

/**
 * The sale, whether this key was used already (its entry id), and the customer's units in line:
 * one read. Both counts only ever grow, so a refusal read from them is final.
 */
export async function precheck(
  em: EntityManager,
  saleId: string,
  entryId: string,
  customerId: string,
): Promise<{ sale: FlashSaleRow; used: boolean; mine: number } | null> {
  const [r] = await sqlAll<FlashSaleRow & { used: boolean; mine: number }>(
    em,
    `select s.*, exists (select 1 from flash_sale_entry e where e.id = $2) as used,
            (select coalesce(sum(quantity), 0)::int from flash_sale_entry e where e.flash_sale_id = s.id and e.customer_id = $3) as mine
       from flash_sale s where s.id = $1`,
    [saleId, entryId, customerId],
  );
  return r ? { sale: r, used: r.used, mine: Number(r.mine) } : null;
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

/**
 * Persists entries accepted by Redis, in the order of the line. PostgreSQL has the last word: an
 * entry already stored (same id: same customer and key) is skipped, so a batch read twice stores
 * nothing twice; an entry that would take its customer over the limit, or the line over its
 * capacity, is not stored but `refused` (possible only while Redis's counts are behind
 * PostgreSQL's, e.g. just after a rebuild, when a decision taken without Redis commits late); its
 * shopper, not answered yet, is then decided by PostgreSQL. Moves the persisted stream position in
 * the same transaction.
 */
export async function persistLine(
  tx: EntityManager,
  sale: FlashSaleRow,
  entries: LineEntry[],
  cursor: string,
): Promise<{ stored: number; refused: string[] }> {
  // The sale row first: decisions without Redis insert entries under its lock too, so the counts
  // read below include every entry committed before, and theirs will include these.
  const [row] = await sqlAll<{ line_units: number; line_capacity: number; per_customer_limit: number }>(
    tx,
    'select line_units, line_capacity, per_customer_limit from flash_sale where id = $1 for update',
    [sale.id],
  );
  const refused: string[] = [];
  const chosen: LineEntry[] = [];
  if (entries.length) {
    const known = await sqlAll<{ id: string | null; customer_id: string | null; units: number | null }>(
      tx,
      `select id, null as customer_id, null::int as units from flash_sale_entry where id = any($2::text[])
       union all
       select null, customer_id, sum(quantity)::int from flash_sale_entry
        where flash_sale_id = $1 and customer_id = any($3::bigint[]) group by customer_id`,
      [sale.id, entries.map((e) => e.id), [...new Set(entries.map((e) => e.customerId))]],
    );
    const there = new Set(known.filter((k) => k.id).map((k) => k.id!));
    const held = new Map(
      known.filter((k) => k.customer_id).map((k) => [String(k.customer_id), Number(k.units)]),
    );
    let units = Number(row.line_units);
    for (const e of entries) {
      if (there.has(e.id)) continue;
      there.add(e.id);
      const mine = held.get(e.customerId) ?? 0;
      if (mine + e.quantity > row.per_customer_limit || units + e.quantity > row.line_capacity) {
        refused.push(e.id);
        continue;
      }
      held.set(e.customerId, mine + e.quantity);
      units += e.quantity;
      chosen.push(e);
    }
  }
  const rows = chosen.length
    ? await sqlAll<{ quantity: number; seq: number }>(
        tx,
        `insert into flash_sale_entry (id, flash_sale_id, customer_id, idempotency_key, quantity, seq, status, created_at)
         select u.id, $1, u.customer, u.key, u.q, u.seq, 'QUEUED', u.at
           from unnest($2::text[], $3::bigint[], $4::text[], $5::int[], $6::int[], $7::timestamptz[]) as u(id, customer, key, q, seq, at)
         on conflict do nothing returning quantity, seq`,
        [
          sale.id,
          chosen.map((e) => e.id),
          chosen.map((e) => e.customerId),
          chosen.map((e) => e.key),
          chosen.map((e) => e.quantity),
          chosen.map((e) => e.seq),
          chosen.map((e) => e.acceptedAt.toISOString()),
        ],
      )
    : [];
  const units = rows.reduce((n, r) => n + Number(r.quantity), 0);
  const seq = rows.reduce((n, r) => Math.max(n, Number(r.seq)), 0);
  await sqlAll(
    tx,
    `update flash_sale set line_units = line_units + $2, line_seq = greatest(line_seq, $3), redis_cursor = $4 where id = $1`,
    [sale.id, units, seq, cursor],
  );
  return { stored: rows.length, refused };
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
