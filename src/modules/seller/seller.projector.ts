import { IsolationLevel } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction } from '../../db/transaction';
import { APPLY_SQL, EVENT_COLUMNS, ORDER_COLUMNS } from './seller.sql';

const BATCH = 2000;

/**
 * Keeps the seller-side store up to date from the outbox. The events the relay has numbered are
 * applied in position order, each exactly once: the store's rows and its cursor move in one
 * transaction, so a crash between applying and recording the cursor rolls both back and the next
 * pass applies the same events again (and the apply statement is idempotent besides). The cursor
 * row is taken with SKIP LOCKED: every process may run passes, one applies at a time.
 *
 * Woken by every published batch (the event bus) and by a timer (the backstop when the bus drops
 * messages); readers that need the store fresh run a pass themselves (SellerStore).
 */
export class SellerProjector {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private em?: () => EntityManager;
  /** Tests: runs inside the apply transaction, after the apply and before the cursor moves. */
  beforeAck?: (tx: EntityManager) => Promise<void>;

  constructor(
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(em: () => EntityManager): void {
    this.em = em;
    this.timer = setInterval(() => this.wake(), this.intervalMs);
    this.timer.unref();
  }

  /** Runs passes until caught up, now or right after the running one (never two at once here). */
  wake(): void {
    if (!this.em) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.applyAll(this.em())
      .then(() => undefined)
      .catch((err) => this.log.warn({ err }, 'seller store pass failed; retrying on the next wake'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.em = undefined;
    await this.running;
  }

  /** Applies until caught up; the number of events applied (0 also when another pass holds the cursor). */
  async applyAll(em: EntityManager): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.applyOnce(em);
      total += n;
      if (n < BATCH) return total;
    }
  }

  private applyOnce(em: EntityManager): Promise<number> {
    return inTransaction(em, async (tx) => {
      const [cursor] = await sqlAll<{ position: string }>(
        tx,
        'select position::text from seller_store_cursor where id = 1 for update skip locked',
      );
      if (!cursor) return 0;
      const [r] = await sqlAll<{ events: number; last: string | null }>(tx, APPLY_SQL, [
        cursor.position,
        BATCH,
      ]);
      if (r.events === 0) return 0;
      await this.beforeAck?.(tx);
      await sqlAll(tx, 'update seller_store_cursor set position = $1 where id = 1', [r.last]);
      return r.events;
    });
  }

  /**
   * Rebuilds the store from scratch: empties it and copies every order and every numbered event
   * from one REPEATABLE READ snapshot of the source, with the cursor at the last position of that
   * snapshot. Events numbered later have higher positions, so the next passes continue from there.
   * The table lock (taken before the snapshot) makes passes wait for the rebuild instead of
   * applying into a store being replaced.
   */
  async rebuild(em: EntityManager): Promise<{ orders: number; events: number; position: string }> {
    return em.fork().transactional(
      async (txm) => {
        const tx = txm as EntityManager;
        await sqlAll(tx, 'lock table seller_store_cursor in exclusive mode');
        await sqlAll(tx, 'truncate seller_order, seller_order_event');
        // Orders moved to cold storage (docs/archive.md) are part of the source where that exists.
        const [{ cold }] = await sqlAll<{ cold: boolean }>(
          tx,
          `select to_regclass('archive.shop_order') is not null and to_regclass('archive.order_event') is not null as cold`,
        );
        const orders = `select ${ORDER_COLUMNS}, false as archived from shop_order${
          cold ? ` union all select ${ORDER_COLUMNS}, true from archive.shop_order` : ''
        }`;
        const events = `select ${EVENT_COLUMNS} from order_event where pos is not null${
          cold ? ` union all select ${EVENT_COLUMNS} from archive.order_event where pos is not null` : ''
        }`;
        const [o] = await sqlAll<{ n: number }>(
          tx,
          `with ins as (insert into seller_order (${ORDER_COLUMNS}, archived) ${orders} returning 1)
           select count(*)::int as n from ins`,
        );
        const [e] = await sqlAll<{ n: number; last: string }>(
          tx,
          `with ins as (insert into seller_order_event (${EVENT_COLUMNS}) ${events} returning pos)
           select count(*)::int as n, coalesce(max(pos), 0)::text as last from ins`,
        );
        await sqlAll(tx, 'update seller_store_cursor set position = $1 where id = 1', [e.last]);
        this.log.info({ orders: o.n, events: e.n, position: e.last }, 'seller store rebuilt');
        return { orders: o.n, events: e.n, position: e.last };
      },
      { isolationLevel: IsolationLevel.REPEATABLE_READ },
    );
  }
}
