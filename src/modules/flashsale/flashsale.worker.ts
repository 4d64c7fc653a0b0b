import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { inTransaction } from '../../db/transaction';
import type { CheckoutService } from '../checkout/checkout.service';
import { heldUnits, releaseHold } from '../inventory/inventory.store';
import type { OrderService } from '../order/order.service';
import { OrderStatus } from '../order/order.lifecycle';
import type { FlashSaleService } from './flashsale.service';
import * as store from './flashsale.store';
import type { FlashSaleRow } from './flashsale.types';
import type { FlashSaleUpdate } from './flashsale.updates';

/**
 * Turns accepted entries into orders, at the pace PostgreSQL sustains. Every process runs one; the
 * steps of one sale are serialised across processes by a transaction-scoped advisory lock, so a
 * worker that dies mid-batch leaves nothing behind (its transaction rolls back and the next worker
 * does the batch again). For each open sale, each round:
 *
 * (Entries the Redis gate accepted reach flash_sale_entry through the line persister,
 * flashsale.persister.ts, which wakes this worker after each batch.)
 *
 * 1. serve: the first QUEUED entries that the sale's hold can cover become orders, many per
 *    transaction, through CheckoutService (normal orders with the sale's payment window);
 * 2. follow: ORDERED entries whose order was paid are settled; those whose order was cancelled
 *    unpaid become EXPIRED (the cancellation already gave the units back to the hold, so the next
 *    round serves the next in line);
 * 3. finish: when every unit is in a paid order, the rest of the line is SOLD_OUT; after the end
 *    of the sale, once no order can still give units back, the sale closes and what it still holds
 *    goes back to the variant's available stock.
 */
export class FlashSaleWorker {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private poked = false;

  constructor(
    private readonly em: () => EntityManager,
    private readonly sales: FlashSaleService,
    private readonly checkout: CheckoutService,
    private readonly orders: OrderService,
    private readonly log: Logger,
  ) {
    sales.onPersisted = () => this.poke();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        this.poked = false; // this round sees everything committed before it starts
        let busy = false;
        try {
          busy = await this.round();
        } catch (err) {
          this.warn(err, 'round failed; retried');
        }
        if (!busy && !this.poked && this.running) await this.idle();
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Work arrived (entries persisted, or decided by PostgreSQL, after their commit): a round now. */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  /** Sleeps until poked or the interval ends; each sleep has its own wake (never a stale one). */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.sales.settings.workerIntervalMs);
      this.wake = done;
    });
  }

  /** One round over every open sale; true when there may be more to do at once. */
  async round(): Promise<boolean> {
    const em = this.em();
    let busy = false;
    for (const sale of await store.openSales(em)) {
      busy = (await this.serve(sale)) || busy;
      busy = (await this.follow(sale)) || busy;
      await this.finish(sale);
    }
    return busy;
  }

  /** The first QUEUED entries the hold covers become orders, in one transaction. */
  async serve(sale: FlashSaleRow): Promise<boolean> {
    const saleId = String(sale.id);
    const out = await inTransaction(this.em(), async (tx) => {
      if (!(await store.lockSale(tx, saleId, false))) return null;
      const held = await heldUnits(tx, saleId, true);
      if (held === 0) return null;
      const line = await store.lineHead(tx, saleId, this.sales.settings.batchSize);
      const chosen: store.EntryRow[] = [];
      let left = held;
      // First come, first served: an entry that does not fit waits, and so do those behind it.
      for (const e of line) {
        if (e.quantity > left) break;
        chosen.push(e);
        left -= e.quantity;
      }
      if (chosen.length === 0) return null;
      const placed = await this.checkout.placeFlashSaleOrders(tx, {
        flashSaleId: saleId,
        variantId: String(sale.variant_id),
        unitPrice: Number(sale.price),
        paymentWindowSeconds: this.sales.settings.paymentWindowSeconds,
        buyers: chosen.map((e) => ({ buyerId: String(e.customer_id), quantity: e.quantity })),
      });
      const ordered = await store.markOrdered(
        tx,
        chosen.map((e, i) => ({
          entryId: e.id,
          checkoutId: placed[i].checkoutId,
          orderId: placed[i].orderId,
        })),
      );
      if (ordered.length !== chosen.length)
        throw new Error('flash sale: an entry changed while being served');
      const head = await store.advanceHead(tx, saleId);
      return { ordered, head, full: line.length === this.sales.settings.batchSize && left > 0 };
    });
    if (!out) return false;
    await this.publish([
      ...out.ordered.map((r) => ({ entry: store.toView(r, null) })),
      { saleId, head: out.head },
    ]);
    await this.sales.gate?.setHead(saleId, out.head).catch(() => undefined);
    return out.full;
  }

  /** Settles paid orders' entries and expires unpaid cancelled ones. */
  async follow(sale: FlashSaleRow): Promise<boolean> {
    const em = this.em();
    const open = await store.openOrders(em, String(sale.id));
    if (open.length === 0) return false;
    const statuses = await this.orders.statusesOf(
      em,
      open.map((e) => String(e.order_id)),
    );
    const paid: string[] = [];
    const expired: string[] = [];
    for (const e of open) {
      const s = statuses.get(String(e.order_id));
      if (s === OrderStatus.CANCELLED) expired.push(e.id);
      else if (s && s !== OrderStatus.PENDING_PAYMENT) paid.push(e.id);
    }
    const gone = await store.settleEntries(em, paid, expired);
    if (gone.length) await this.publish(gone.map((r) => ({ entry: store.toView(r, null) })));
    return gone.length > 0;
  }

  /** Sold out (every unit paid for) and, after the end, closed. */
  async finish(sale: FlashSaleRow): Promise<void> {
    const saleId = String(sale.id);
    const out = await inTransaction(this.em(), async (tx) => {
      if (!(await store.lockSale(tx, saleId, false))) return null;
      const s = (await store.saleById(tx, saleId))!;
      if (s.closed_at) return null;
      const held = await heldUnits(tx, saleId, true);
      const open = await store.openOrders(tx, saleId);
      if (open.length > 0) return null; // an unpaid order may still give units back
      const ended = Date.now() >= s.ends_at.getTime();
      const soldOut = held === 0 && !s.sold_out;
      const [first] = ended ? await store.lineHead(tx, saleId, 1) : [];
      const close = ended && (!first || first.quantity > held);
      if (!soldOut && !close) return null;
      const gone = await store.soldOutQueued(tx, saleId);
      if (close) await releaseHold(tx, saleId);
      await store.markSale(tx, saleId, { soldOut, closed: close });
      return { gone, soldOut, close };
    });
    if (!out) return;
    await this.publish(out.gone.map((r) => ({ entry: store.toView(r, null) })));
    const gate = this.sales.gate;
    if (gate) {
      await gate.setSoldOut(saleId).catch(() => undefined);
      if (out.close) await gate.expire(saleId, 24 * 3600).catch(() => undefined);
    }
  }

  private async publish(batch: FlashSaleUpdate[]): Promise<void> {
    if (batch.length) await this.sales.bus.publish(batch);
  }

  private warn(err: unknown, what: string): void {
    this.log.warn({ err: String((err as Error).message).slice(-300) }, `flash-sale worker: ${what}`);
  }
}
