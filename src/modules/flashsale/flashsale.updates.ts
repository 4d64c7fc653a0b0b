import type { Logger } from 'pino';
import { connectRedis, RedisChannel, type RedisClient } from '../../shared/redis';
import { FlashSaleEntryStatus, type EntryView } from './flashsale.types';

/**
 * Flash-sale entry updates from the workers to the shoppers' subscriptions: an entry's new status,
 * or a sale's line moving on (every QUEUED entry's position changes with it). Only a fast path:
 * PostgreSQL has every entry's state, and a subscription re-reads its entry whenever messages
 * may have been lost (a pub/sub reconnect), so a lost message costs a read, never an update.
 */
export type FlashSaleUpdate =
  { entry: EntryView } | { saleId: string; head: number } | { persisted: LinePersisted };

/**
 * A part of a sale's Redis line reached PostgreSQL: every entry of copy `epoch` up to `upTo` (its
 * seq) is stored, except those `refused` (over the limit in PostgreSQL). Shoppers waiting for their
 * acceptance to be durable are answered by it (flashsale.durable.ts).
 */
export interface LinePersisted {
  saleId: string;
  epoch: string;
  upTo: number;
  refused: string[];
}

export interface UpdateListener {
  onUpdates(batch: FlashSaleUpdate[]): void;
  onGap(): void;
}

export interface UpdateBus {
  publish(batch: FlashSaleUpdate[]): Promise<void>;
  listen(l: UpdateListener): void;
  close(): Promise<void>;
}

export class LocalUpdateBus implements UpdateBus {
  private readonly listeners: UpdateListener[] = [];
  async publish(batch: FlashSaleUpdate[]): Promise<void> {
    for (const l of this.listeners) l.onUpdates(batch);
  }
  listen(l: UpdateListener): void {
    this.listeners.push(l);
  }
  async close(): Promise<void> {
    this.listeners.length = 0;
  }
}

/**
 * Many processes: a worker on any process publishes; every process delivers to its own sockets.
 * On a Redis Cluster the channel is a sharded one (src/shared/redis.ts).
 */
export class RedisUpdateBus implements UpdateBus {
  private readonly pub: RedisClient;
  private readonly channel: RedisChannel;
  private readonly listeners: UpdateListener[] = [];

  /** `prefix`: FLASH_SALE_REDIS_PREFIX, so deployments sharing a Redis do not hear each other. */
  constructor(url: string, log: Logger, prefix = 'fs') {
    this.pub = connectRedis(url, {
      purpose: 'flash-sale updates',
      log,
      errorLevel: 'debug',
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    this.channel = new RedisChannel(
      url,
      `${prefix}:updates`,
      this.pub,
      {
        onMessage: (message) => {
          let batch: FlashSaleUpdate[];
          try {
            batch = JSON.parse(message);
          } catch {
            return;
          }
          for (const l of this.listeners) l.onUpdates(batch);
        },
        onGap: () => {
          for (const l of this.listeners) l.onGap();
        },
      },
      { purpose: 'flash-sale updates', log, errorLevel: 'debug' },
    );
  }

  async start(): Promise<void> {
    await this.channel.start();
  }

  async publish(batch: FlashSaleUpdate[]): Promise<void> {
    // Best effort: a subscriber re-reads its entry after a gap; a worker never fails on this.
    await this.channel.publish(JSON.stringify(batch)).catch(() => undefined);
  }

  listen(l: UpdateListener): void {
    this.listeners.push(l);
  }

  async close(): Promise<void> {
    this.listeners.length = 0;
    await this.channel.close();
    await this.pub.quit().catch(() => undefined);
  }
}

const TERMINAL = new Set([FlashSaleEntryStatus.SOLD_OUT, FlashSaleEntryStatus.EXPIRED]);

const differs = (a: EntryView, b: EntryView) =>
  a.status !== b.status || a.position !== b.position || a.checkoutId !== b.checkoutId;

/**
 * One subscription: the entry as it is now, then the entry each time its status or position
 * changes. Ends after a final status (SOLD_OUT, EXPIRED).
 */
export class EntryStream implements AsyncIterableIterator<EntryView> {
  private readonly ready: EntryView[] = [];
  private last: EntryView;
  private done = false;
  private wake?: () => void;

  constructor(
    first: EntryView,
    private readonly reread: () => Promise<EntryView | null>,
    private readonly onClose: () => void,
  ) {
    this.last = first;
    this.ready.push(first);
    if (TERMINAL.has(first.status)) this.done = true;
  }

  get entryId(): string {
    return this.last.id;
  }

  get saleId(): string {
    return this.last.flashSaleId;
  }

  push(e: EntryView): void {
    if (this.done && this.ready.length === 0) return;
    // An older status never replaces a newer one (updates of one entry may cross on the bus).
    if (rank(e.status) < rank(this.last.status)) return;
    if (!differs(e, this.last)) return;
    this.last = e;
    this.ready.push(e);
    if (TERMINAL.has(e.status)) this.done = true;
    this.wake?.();
  }

  onHead(head: number): void {
    if (this.last.status !== FlashSaleEntryStatus.QUEUED) return;
    const position = Math.max(1, this.last.seq - head);
    if (this.last.position !== null && position >= this.last.position) return;
    this.push({ ...this.last, position });
  }

  refresh(): void {
    void this.reread()
      .then((e) => e && this.push(e))
      .catch(() => undefined);
  }

  async next(): Promise<IteratorResult<EntryView>> {
    for (;;) {
      const e = this.ready.shift();
      if (e) return { value: e, done: false };
      if (this.done) {
        this.onClose();
        return { value: undefined, done: true };
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }

  async return(): Promise<IteratorResult<EntryView>> {
    this.done = true;
    this.ready.length = 0;
    this.onClose();
    this.wake?.();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

const rank = (s: FlashSaleEntryStatus) =>
  s === FlashSaleEntryStatus.QUEUED ? 0 : s === FlashSaleEntryStatus.ORDERED ? 1 : 2;

/** This process's entry subscriptions, by entry and by sale; fed by the bus. */
export class UpdateHub implements UpdateListener {
  private readonly byEntry = new Map<string, Set<EntryStream>>();
  private readonly bySale = new Map<string, Set<EntryStream>>();

  onUpdates(batch: FlashSaleUpdate[]): void {
    for (const u of batch) {
      if ('entry' in u) this.byEntry.get(u.entry.id)?.forEach((s) => s.push(u.entry));
      else if ('head' in u) this.bySale.get(u.saleId)?.forEach((s) => s.onHead(u.head));
    }
  }

  onGap(): void {
    for (const set of this.byEntry.values()) set.forEach((s) => s.refresh());
  }

  add(s: EntryStream): () => void {
    const add = (index: Map<string, Set<EntryStream>>, key: string) => {
      const set = index.get(key) ?? new Set();
      index.set(key, set);
      set.add(s);
      return () => {
        set.delete(s);
        if (set.size === 0 && index.get(key) === set) index.delete(key);
      };
    };
    const a = add(this.byEntry, s.entryId);
    const b = add(this.bySale, s.saleId);
    return () => {
      a();
      b();
    };
  }

  get subscriptions(): number {
    let n = 0;
    for (const set of this.byEntry.values()) n += set.size;
    return n;
  }
}
