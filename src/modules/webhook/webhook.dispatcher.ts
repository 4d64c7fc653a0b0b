import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { BusListener } from '../events/event-bus';
import { dispatchNext } from './webhook.store';

const BATCH = 500;

/**
 * Derives deliveries from the outbox after the fact (webhook.store dispatchNext), exactly once per
 * (event, endpoint): the cursor moves in the transaction that inserts the deliveries, and a unique
 * key backs it up. Woken by the event bus when the relay publishes (every process hears it; one
 * at a time holds the cursor, the others skip), and by a poll as a backstop. It never holds up
 * the relay: the relay only publishes; this reads the outbox on its own connection.
 */
export class WebhookDispatcher implements BusListener {
  private running = false;
  private pending = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly em: () => EntityManager,
    private readonly maxAttempts: number,
    private readonly pollMs: number,
    /** Called when deliveries were added (wakes this process's worker). */
    private readonly onDeliveries: () => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.wake();
  }

  onEvents(): void {
    this.wake();
  }

  onGap(): void {
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = true;
    void this.pass()
      .catch((err) => this.log.error({ err }, 'webhook dispatch failed; retrying on the next tick'))
      .finally(() => {
        this.running = false;
        if (this.pending) {
          this.pending = false;
          this.wake();
        }
      });
  }

  private async pass(): Promise<void> {
    while (!this.stopped) {
      const r = await dispatchNext(this.em(), BATCH, this.maxAttempts);
      if (r.deliveries > 0) this.onDeliveries();
      if (!r.locked || r.events < BATCH) return;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }
}
