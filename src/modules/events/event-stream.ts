import { toPublished, type PublishedEvent } from './event-bus';
import type { OrderEventRow } from './order-events';

/** What a stream follows: one order (ordered by its event numbers) or a shop (by publication position). */
export type StreamScope = { orderId: string } | { merchantId: string };

/** Reads the scope's events after a point from the outbox, oldest first. */
export type OutboxReader = (scope: StreamScope, after: number) => Promise<OrderEventRow[]>;

export class StreamOverflowError extends Error {}

/**
 * One subscription's events: replayed from the outbox, then live from the pub/sub, with no gap and
 * no duplicate at the seam. Live events are buffered while the outbox is read; an event already
 * delivered is dropped by its number; a hole in an order's numbering (a lost pub/sub message) or
 * a pub/sub reconnect makes the stream read the outbox again from its last delivered event.
 */
export class EventStream implements AsyncIterableIterator<PublishedEvent> {
  private readonly ready: PublishedEvent[] = [];
  private held: PublishedEvent[] = [];
  private catchingUp = false;
  private again = false;
  private failure?: Error;
  private done = false;
  private wakeReader?: () => void;

  /**
   * @param last the number (order seq, or shop pos) of the last event the client has; null: none,
   *   start with what happens next.
   */
  constructor(
    readonly scope: StreamScope,
    private last: number | null,
    private readonly read: OutboxReader,
    private readonly maxBuffered = 1000,
    private readonly onClose: () => void = () => undefined,
  ) {}

  private get byOrder(): boolean {
    return 'orderId' in this.scope;
  }

  private numberOf(e: PublishedEvent): number {
    return this.byOrder ? e.seq : e.pos;
  }

  /** A live event from the pub/sub. */
  push(e: PublishedEvent): void {
    if (this.done) return;
    if (this.catchingUp) this.held.push(e);
    else this.accept(e);
  }

  /** Reads the outbox from the last delivered event (at the start, and after a possible loss). */
  catchUp(): void {
    if (this.done) return;
    if (this.catchingUp) {
      this.again = true;
      return;
    }
    if (this.last === null) return; // nothing delivered and nothing asked for: live only
    this.catchingUp = true;
    void (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const rows = await this.read(this.scope, this.last!);
            for (const r of rows) this.deliver(toPublished(r));
            if (rows.length === 0 || this.done) break;
          }
        } while (this.again && !this.done);
      } catch (err) {
        this.fail(err as Error);
      } finally {
        this.catchingUp = false;
      }
      const held = this.held;
      this.held = [];
      for (const e of held) this.accept(e);
    })();
  }

  private accept(e: PublishedEvent): void {
    const n = this.numberOf(e);
    if (this.last !== null && n <= this.last) return;
    if (this.byOrder && this.last !== null && n > this.last + 1) {
      // An earlier event of this order never arrived: the outbox has it.
      this.held.push(e);
      this.catchUp();
      return;
    }
    this.deliver(e);
  }

  private deliver(e: PublishedEvent): void {
    const n = this.numberOf(e);
    if (this.done || (this.last !== null && n <= this.last)) return;
    this.last = n;
    if (this.ready.length >= this.maxBuffered) {
      this.fail(
        new StreamOverflowError('The subscriber is too slow; resubscribe with the last event id as `after`'),
      );
      return;
    }
    this.ready.push(e);
    this.wakeReader?.();
  }

  private fail(err: Error): void {
    this.failure = err;
    this.wakeReader?.();
  }

  async next(): Promise<IteratorResult<PublishedEvent>> {
    for (;;) {
      if (this.ready.length) return { value: this.ready.shift()!, done: false };
      if (this.failure) {
        const err = this.failure;
        this.failure = undefined; // thrown once; the stream is over after it
        await this.return();
        throw err;
      }
      if (this.done) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      this.wakeReader = undefined;
    }
  }

  async return(): Promise<IteratorResult<PublishedEvent>> {
    if (!this.done) {
      this.done = true;
      this.ready.length = 0;
      this.held = [];
      this.onClose();
      this.wakeReader?.();
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
