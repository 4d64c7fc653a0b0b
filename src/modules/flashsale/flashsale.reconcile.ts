import type { EntityManager } from '@mikro-orm/postgresql';
import { inTransaction } from '../../db/transaction';
import type { FlashSaleCore } from './flashsale.deps';
import * as store from './flashsale.store';
import type { LinePersisted } from './flashsale.updates';

/*
 * Recovery of the Redis gate: rebuilding a sale's copy in Redis from PostgreSQL, which stays the
 * record (after a Redis restart, decisions taken without Redis, or Redis being unreachable).
 */

/**
 * Rebuilds a sale's Redis copy from PostgreSQL: when Redis has no copy (a new or restarted Redis),
 * when PostgreSQL decided entries since the copy was built, and after Redis was unreachable
 * (`force`). The gate is frozen first, so no decision is taken meanwhile; what the old copy's line
 * still holds is persisted; then the copy is replaced by the counts of the persisted entries.
 * Serialised per sale across processes (the line lock); the service runs one per sale at a time
 * in this process (FlashSaleService.reconcile).
 */
export async function rebuildCopy(
  core: FlashSaleCore,
  em: EntityManager,
  saleId: string,
  force: boolean,
): Promise<void> {
  const gate = core.gate!;
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
    for (const p of frozen.persisted) await core.announcePersisted(p);
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
      core.log.info({ saleId, force }, 'flash sale: Redis copy rebuilt from PostgreSQL');
      // Shoppers still waiting on an older copy: theirs may be gone with it; they look again.
      await core.announcePersisted({ saleId, epoch, upTo: 0, refused: [] });
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
export async function rebuildAllCopies(
  core: FlashSaleCore,
  em: EntityManager,
  force: boolean,
): Promise<void> {
  if (!core.gate) return;
  core.rebuildAll = false;
  try {
    for (const sale of await store.openSales(em)) await core.reconcile(em, String(sale.id), force);
  } catch (err) {
    core.rebuildAll = true;
    throw err;
  }
}
