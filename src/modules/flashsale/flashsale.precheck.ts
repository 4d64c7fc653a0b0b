import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { FlashSaleRow } from './flashsale.types';

/** What PostgreSQL says of one shopper before a decision without Redis (see `precheck`). */
export interface Precheck {
  sale: FlashSaleRow;
  /** This entry id (customer and key) is stored already. */
  used: boolean;
  /** The customer's units in line. */
  mine: number;
}

interface Asking {
  entryId: string;
  customerId: string;
  resolve(p: Precheck | null): void;
  reject(err: unknown): void;
}

/** Shoppers of one sale read by one statement at most (a larger crowd takes several). */
const MAX_BATCH = 1000;

/**
 * The read that answers most shoppers of a busy sale without Redis (line full, sold out, outside
 * the window, a repeated key, over the limit): the sale, whether each entry id is stored, and each
 * customer's units in line. Shoppers of one sale who arrive in the same turn of the event loop
 * share one statement, as the Redis gate shares one script call: a crowd of 10,000 arriving at
 * once costs about ten reads, not 10,000 reads queued for the connection pool (where, before,
 * most of them ran out of DB_POOL_ACQUIRE_TIMEOUT_MS and the shoppers got an internal error).
 * Both counts only ever grow, so a refusal read from them is final.
 */
export class PrecheckBatcher {
  private readonly batches = new Map<string, { em: EntityManager; asking: Asking[] }>();

  ask(em: EntityManager, saleId: string, entryId: string, customerId: string): Promise<Precheck | null> {
    return new Promise<Precheck | null>((resolve, reject) => {
      let batch = this.batches.get(saleId);
      if (!batch) {
        batch = { em, asking: [] };
        this.batches.set(saleId, batch);
        setImmediate(() => this.flush(saleId, batch!));
      }
      batch.asking.push({ entryId, customerId, resolve, reject });
      if (batch.asking.length >= MAX_BATCH) this.flush(saleId, batch);
    });
  }

  private flush(saleId: string, batch: { em: EntityManager; asking: Asking[] }): void {
    if (this.batches.get(saleId) !== batch) return; // flushed already (full)
    this.batches.delete(saleId);
    const { asking } = batch;
    read(batch.em, saleId, asking).then(
      (r) => {
        for (const a of asking)
          a.resolve(r && { sale: r.sale, used: r.used.has(a.entryId), mine: r.mine.get(a.customerId) ?? 0 });
      },
      (err) => asking.forEach((a) => a.reject(err)),
    );
  }
}

async function read(
  em: EntityManager,
  saleId: string,
  asking: { entryId: string; customerId: string }[],
): Promise<{ sale: FlashSaleRow; used: Set<string>; mine: Map<string, number> } | null> {
  const [r] = await sqlAll<FlashSaleRow & { used: string[] | null; mine: [string, number][] | null }>(
    em,
    `select s.*,
            (select array_agg(e.id) from flash_sale_entry e where e.id = any($2::text[])) as used,
            (select json_agg(json_build_array(c.customer_id::text, c.units)) from (
               select customer_id, sum(quantity)::int as units from flash_sale_entry e
                where e.flash_sale_id = s.id and e.customer_id = any($3::bigint[]) group by customer_id) c) as mine
       from flash_sale s where s.id = $1`,
    [saleId, asking.map((a) => a.entryId), [...new Set(asking.map((a) => a.customerId))]],
  );
  if (!r) return null;
  const { used, mine, ...sale } = r;
  return {
    sale: sale as FlashSaleRow,
    used: new Set(used ?? []),
    mine: new Map((mine ?? []).map(([c, n]) => [c, Number(n)])),
  };
}
