import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import type { OrderEventRow } from '../events/order-events';
import {
  orderFilterConditions,
  type MerchantOrderLists,
  type OrderListFilter,
  type OrderPage,
} from '../order/order.service';
import { orderFromRow, type OrderRow } from '../order/order.store';
import type { SellerProjector } from './seller.projector';
import { ORDER_COLUMNS, SHOP_EVENTS_SQL, STILL_UNAPPLIED_SQL, UNAPPLIED_SQL } from './seller.sql';

/** More unapplied events of one shop than this: the store is far behind; read the source at once. */
const MAX_WAITED_EVENTS = 1000;
const POLL_MS = 10;

export interface SellerStoreSettings {
  /** How long a merchant read waits for the store to contain the shop's committed events. */
  readWaitMs: number;
}

/**
 * Reads of the seller-side store (merchant order lists, shop event replays).
 *
 * Read-after-write: before a list is served from the store, the shop's events committed so far
 * (in the outbox, not applied yet) are looked up; when there are any, this request runs passes
 * of the projector itself until they are applied, for at most `readWaitMs`, and otherwise answers
 * from the source tables. So a merchant who has just shipped an order, or whose buyer has just
 * checked out, sees it in the list at once, whichever process served the write.
 */
export class SellerStore implements MerchantOrderLists {
  /** Lists answered from the source because the store could not catch up in time (a gauge for tests and ops). */
  fallbacks = 0;

  constructor(
    private readonly projector: SellerProjector,
    private readonly settings: SellerStoreSettings,
    private readonly log?: Logger,
  ) {}

  /**
   * The merchant's orders (and, as before the store existed, the orders the merchant's user bought
   * elsewhere), newest first, from the store; null when the store is not fresh enough in time.
   */
  async list(
    em: EntityManager,
    who: { merchantId: string; userId: string },
    filter: OrderListFilter,
    limit: number,
    beforeId: string | null,
  ): Promise<OrderPage | null> {
    if (!(await this.awaitFresh(em, who.merchantId))) {
      this.fallbacks++;
      this.log?.info(
        { merchantId: who.merchantId },
        'seller store behind; merchant list read from the source',
      );
      return null;
    }
    const params: unknown[] = [];
    const add = (v: unknown) => `$${params.push(v)}`;
    const m = add(who.merchantId);
    const u = add(who.userId);
    const conds = orderFilterConditions(filter, add);
    const sold = [`merchant_id = ${m}`, ...conds];
    // Archived orders too unless asked not to, like the source lists (docs/archive.md).
    if (filter.includeArchived === false) sold.push('not archived');
    // Bought from other shops: one buyer's rows of the buyer-keyed table (its own shard, distributed).
    const bought = [`buyer_id = ${u}`, `merchant_id <> ${m}`, ...conds];
    const count = `select ((select count(*) from seller_order where ${sold.join(' and ')})
                         + (select count(*) from shop_order where ${bought.join(' and ')}))::int as n`;
    const countParams = [...params];
    if (beforeId) {
      const b = add(beforeId);
      sold.push(`id < ${b}::bigint`);
      bought.push(`id < ${b}::bigint`);
    }
    const n = add(limit);
    const [rows, [{ n: total }]] = await Promise.all([
      sqlAll<OrderRow>(
        em.fork() as EntityManager,
        `select * from (
           (select ${ORDER_COLUMNS} from seller_order where ${sold.join(' and ')} order by id desc limit ${n})
           union all
           (select ${ORDER_COLUMNS} from shop_order where ${bought.join(' and ')} order by id desc limit ${n})
         ) x order by id desc limit ${n}`,
        params,
      ),
      sqlAll<{ n: number }>(em.fork() as EntityManager, count, countParams),
    ]);
    return { rows: rows.map(orderFromRow), totalCount: total };
  }

  /**
   * Whether every event of the shop committed before this call is in the store, applying them
   * (bounded by `readWaitMs`) when not. Events committed during the wait are not waited for.
   */
  async awaitFresh(em: EntityManager, merchantId: string): Promise<boolean> {
    const pending = await sqlAll<{ id: string }>(em, UNAPPLIED_SQL, [merchantId, MAX_WAITED_EVENTS + 1]);
    if (pending.length === 0) return true;
    if (pending.length > MAX_WAITED_EVENTS) return false;
    const ids = pending.map((p) => p.id);
    const until = Date.now() + this.settings.readWaitMs;
    for (;;) {
      // The relay numbers the events within moments; applying them is one short transaction.
      await this.projector.applyAll(em.fork() as EntityManager);
      const [{ n }] = await sqlAll<{ n: number }>(em, STILL_UNAPPLIED_SQL, [ids]);
      if (n === 0) return true;
      if (Date.now() + POLL_MS > until) return false;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** A shop's events after position `after`, oldest first (the replay of `merchantOrderEvents`). */
  shopEvents(em: EntityManager, merchantId: string, after: number, limit: number): Promise<OrderEventRow[]> {
    return sqlAll<OrderEventRow>(em, SHOP_EVENTS_SQL, [merchantId, after, limit]);
  }
}
