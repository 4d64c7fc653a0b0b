import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction } from '../../db/transaction';
import { ADD_REFUND_SQL, FOLD_SQL } from './sales.sql';

const BATCH = 5000;

/**
 * Keeps the sales rollup up to date from the outbox: the events the relay has numbered are folded
 * in, in position order, each exactly once, because the rollup rows and the cursor move in one
 * transaction. Every process runs it on a timer; the cursor row is taken with SKIP LOCKED, so one
 * folds at a time and the others skip the turn. Queries add what is not folded in yet (see
 * SalesService), so this only bounds how much a query adds itself.
 */
export class SalesRollup {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(em: () => EntityManager): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.foldAll(em())
        .then(() => undefined)
        .catch((err) => this.log.warn({ err }, 'sales rollup pass failed; retrying on the next tick'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Folds until caught up; the number of events folded (0 also when another process is folding). */
  async foldAll(em: EntityManager): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.foldOnce(em);
      total += n;
      if (n < BATCH) return total;
    }
  }

  private foldOnce(em: EntityManager): Promise<number> {
    return inTransaction(em, async (tx) => {
      const [cursor] = await sqlAll<{ position: string }>(
        tx,
        'select position::text from sales_rollup_cursor where id = 1 for update skip locked',
      );
      if (!cursor) return 0;
      const [r] = await sqlAll<{ events: number; last: string | null }>(tx, FOLD_SQL, [
        cursor.position,
        BATCH,
      ]);
      if (r.events > 0) {
        await sqlAll(tx, 'update sales_rollup_cursor set position = $1 where id = 1', [r.last]);
      }
      return r.events;
    });
  }
}

/** Adds a refund of a paid order to the figures, in the refund's own transaction (refunds are rare: no hot row). */
export async function addRefundToSales(
  tx: EntityManager,
  merchantId: string,
  orderId: string,
  amount: number,
): Promise<void> {
  await sqlAll(tx, ADD_REFUND_SQL, [merchantId, orderId, amount]);
}
