import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { authorize, authorizeMerchant, type Principal } from '../../shared/auth';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { canSee } from '../order/order.service';
import type { BusListener, EventBus, PublishedEvent } from './event-bus';
import { EventStream, type OutboxReader, type StreamScope } from './event-stream';
import type { OrderEventRow } from './order-events';

const REPLAY_PAGE = 500;

/** A shop's events after a publication position, oldest first, at most `limit`. */
export type ShopReplay = (
  em: EntityManager,
  merchantId: string,
  after: number,
  limit: number,
) => Promise<OrderEventRow[]>;

/** This process's live subscriptions, indexed by order and by shop; fed by the pub/sub. */
class EventHub implements BusListener {
  private readonly byOrder = new Map<string, Set<EventStream>>();
  private readonly byMerchant = new Map<string, Set<EventStream>>();

  onEvents(batch: PublishedEvent[]): void {
    for (const e of batch) {
      this.byOrder.get(e.orderId)?.forEach((s) => s.push(e));
      this.byMerchant.get(e.merchantId)?.forEach((s) => s.push(e));
    }
  }

  onGap(): void {
    for (const index of [this.byOrder, this.byMerchant])
      for (const set of index.values()) set.forEach((s) => s.catchUp());
  }

  add(stream: EventStream): () => void {
    const [index, key] =
      'orderId' in stream.scope
        ? [this.byOrder, stream.scope.orderId]
        : [this.byMerchant, stream.scope.merchantId];
    const set = index.get(key) ?? new Set();
    index.set(key, set);
    set.add(stream);
    return () => {
      set.delete(stream);
      if (set.size === 0 && index.get(key) === set) index.delete(key);
    };
  }

  get subscriptions(): number {
    let n = 0;
    for (const index of [this.byOrder, this.byMerchant]) for (const set of index.values()) n += set.size;
    return n;
  }
}

/**
 * Live order events for subscribers: checks who may follow what, resolves resume cursors, and
 * builds the streams that replay the outbox and then follow the pub/sub.
 */
export class EventsService {
  private readonly hub = new EventHub();

  constructor(
    bus: EventBus,
    private readonly maxBuffered = 1000,
    /** How long a shop stream waits for the relay to number the event named as its cursor. */
    private readonly cursorWaitMs = 5000,
    /** Where a shop stream replays from (the seller-side store); default: the outbox itself. */
    private readonly shopReplay?: ShopReplay,
  ) {
    bus.listen(this.hub);
  }

  get subscriptions(): number {
    return this.hub.subscriptions;
  }

  /** The order's buyer, its merchant and admins; anyone else: NOT_FOUND, and no event. */
  async orderStream(
    em: EntityManager,
    principal: Principal | null,
    orderId: string,
    after: string | null,
  ): Promise<EventStream> {
    const p = authorize(principal);
    const [order] = isId(orderId)
      ? await sqlAll<{ buyer_id: string; merchant_id: string; event_seq: number }>(
          em,
          'select buyer_id, merchant_id, event_seq from shop_order where id = $1',
          [orderId],
        )
      : [];
    if (!order || !canSee(p, { buyerId: order.buyer_id, merchantId: order.merchant_id }))
      throw notFound('Order', orderId.slice(0, 40));
    // Without a cursor: everything after this moment (so a lost message is noticed from the start).
    let last = Number(order.event_seq);
    if (after != null) {
      const cursor = await this.cursor(em, after);
      if (!cursor || String(cursor.order_id) !== orderId)
        throw badInput('`after` is not an event of this order', 'after');
      last = Number(cursor.seq);
    }
    return this.open(em, { orderId }, last);
  }

  /** Every event of the signed-in merchant's orders, new orders included. */
  async merchantStream(
    em: EntityManager,
    principal: Principal | null,
    after: string | null,
  ): Promise<EventStream> {
    const p = authorizeMerchant(principal);
    const [relay] = await sqlAll<{ assigned_pos: string }>(em, 'select assigned_pos from outbox_relay');
    let last = Number(relay.assigned_pos);
    if (after != null) {
      let cursor = await this.cursor(em, after);
      if (!cursor || String(cursor.merchant_id) !== p.merchantId)
        throw badInput('`after` is not an event of this shop', 'after');
      // A cursor read from Order.history may not be numbered yet; the relay does so within moments.
      for (const until = Date.now() + this.cursorWaitMs; cursor.pos === null && Date.now() < until;) {
        await new Promise((r) => setTimeout(r, 50));
        cursor = (await this.cursor(em, after))!;
      }
      if (cursor.pos === null) throw badInput('`after` is not published yet; try again', 'after');
      last = Number(cursor.pos);
    }
    return this.open(em, { merchantId: p.merchantId }, last);
  }

  private async cursor(em: EntityManager, id: string): Promise<OrderEventRow | null> {
    if (!isId(id)) return null;
    const [row] = await sqlAll<OrderEventRow>(em, 'select * from order_event where id = $1', [id]);
    return row ?? null;
  }

  private open(em: EntityManager, scope: StreamScope, last: number): EventStream {
    const read: OutboxReader = (s, after) =>
      'orderId' in s
        ? sqlAll<OrderEventRow>(
            em.fork() as EntityManager,
            'select * from order_event where order_id = $1 and seq > $2 order by seq limit $3',
            [s.orderId, after, REPLAY_PAGE],
          )
        : this.shopReplay
          ? this.shopReplay(em.fork() as EntityManager, s.merchantId, after, REPLAY_PAGE)
          : sqlAll<OrderEventRow>(
              em.fork() as EntityManager,
              'select * from order_event where merchant_id = $1 and pos > $2 order by pos limit $3',
              [s.merchantId, after, REPLAY_PAGE],
            );
    let remove = () => {};
    const stream = new EventStream(scope, last, read, this.maxBuffered, () => remove());
    // Listen first, then read the outbox: whatever is published meanwhile is held, then deduplicated.
    remove = this.hub.add(stream);
    stream.catchUp();
    return stream;
  }
}
