import type { Logger } from 'pino';
import { connectRedis, RedisChannel, type RedisClient } from '../../shared/redis';
import type { OrderEventRow, ShipmentSnapshot } from './order-events';

/** An order event as it travels from the relay to every process's subscribers. */
export interface PublishedEvent {
  id: string;
  orderId: string;
  buyerId: string;
  merchantId: string;
  seq: number;
  pos: number;
  type: string;
  status: string;
  shipmentId: string | null;
  afterSaleId: string | null;
  occurredAt: string;
  /** SHIPMENT_UPDATED: the shipment as it was at this event (absent on events from before snapshots). */
  shipment?: ShipmentSnapshot | null;
}

export const toPublished = (r: OrderEventRow): PublishedEvent => ({
  id: String(r.id),
  orderId: String(r.order_id),
  buyerId: String(r.buyer_id),
  merchantId: String(r.merchant_id),
  seq: Number(r.seq),
  pos: Number(r.pos),
  type: r.type,
  status: r.status,
  shipmentId: r.shipment_id ? String(r.shipment_id) : null,
  afterSaleId: r.after_sale_id ? String(r.after_sale_id) : null,
  occurredAt: new Date(r.created_at).toISOString(),
  shipment: r.payload ?? null,
});

export interface BusListener {
  /** Batches arrive in publication order. */
  onEvents(batch: PublishedEvent[]): void;
  /** Messages may have been lost (the pub/sub connection dropped): catch up from the database. */
  onGap(): void;
}

/**
 * The pub/sub between the outbox relay and the subscribers. It is only a fast path: the outbox is
 * the record, so a lost message costs a catch-up read, never an event.
 */
export interface EventBus {
  publish(batch: PublishedEvent[]): Promise<void>;
  listen(listener: BusListener): void;
  close(): Promise<void>;
}

/** One process (the embedded default): the relay hands batches straight to the listeners. */
export class LocalEventBus implements EventBus {
  private readonly listeners: BusListener[] = [];

  async publish(batch: PublishedEvent[]): Promise<void> {
    for (const l of this.listeners) l.onEvents(batch);
  }

  listen(listener: BusListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
  }
}

const CHANNEL = 'commerce:order-events';

/**
 * Many processes: the relay (on whichever process leads) publishes each batch once to one Redis
 * channel; every process subscribes once and dispatches to its own sockets. After a reconnect the
 * listeners catch up from the database, since Redis pub/sub keeps nothing for absent subscribers.
 * On a Redis Cluster the channel is a sharded one (SPUBLISH/SSUBSCRIBE): one shard carries it, and
 * batches keep their order because they all travel through that one channel.
 */
export class RedisEventBus implements EventBus {
  private readonly pub: RedisClient;
  private readonly channel: RedisChannel;
  private readonly listeners: BusListener[] = [];

  constructor(url: string, log: Logger) {
    // Publishing waits through a reconnection: the relay marks rows published only after this.
    this.pub = connectRedis(url, {
      purpose: 'event bus',
      log,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
    });
    this.channel = new RedisChannel(
      url,
      CHANNEL,
      this.pub,
      {
        onMessage: (message) => {
          let batch: PublishedEvent[];
          try {
            batch = JSON.parse(message);
          } catch {
            return;
          }
          for (const l of this.listeners) l.onEvents(batch);
        },
        onGap: () => {
          for (const l of this.listeners) l.onGap();
        },
      },
      { purpose: 'event bus', log },
    );
  }

  async start(): Promise<void> {
    await this.channel.start();
  }

  async publish(batch: PublishedEvent[]): Promise<void> {
    await this.channel.publish(JSON.stringify(batch));
  }

  listen(listener: BusListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    await this.channel.close();
    await this.pub.quit().catch(() => undefined);
  }
}
