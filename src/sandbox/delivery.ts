import { setTimeout as sleep } from 'node:timers/promises';
import { sign, SIGNATURE_HEADER } from './signature';
import type { Controls, PaymentEvent, SandboxStats } from './types';

/** How callbacks are retried: attempt n waits min(maxMs, baseMs * 2^(n-1)) after attempt n's failure. */
export interface DeliveryOptions {
  baseMs: number;
  maxMs: number;
  maxAttempts: number;
  /** Per attempt: a receiver slower than this counts as a failure. */
  timeoutMs: number;
}

export const DEFAULT_DELIVERY: Readonly<DeliveryOptions> = {
  baseMs: 200,
  maxMs: 10_000,
  maxAttempts: 8,
  timeoutMs: 5_000,
};

export function backoffMs(attempt: number, opts: Pick<DeliveryOptions, 'baseMs' | 'maxMs'>): number {
  return Math.min(opts.maxMs, opts.baseMs * 2 ** (attempt - 1));
}

interface Queued {
  event: PaymentEvent;
  url: string;
}

export interface DispatcherDeps {
  secrets: readonly string[];
  delivery: DeliveryOptions;
  /** The provider's live controls and counters (read and updated in place). */
  controls: Controls;
  stats: SandboxStats;
  nowMs: () => number;
  onWarning: (message: string) => void;
}

/**
 * Sends events to callback URLs as signed JSON POSTs, retried with exponential backoff until a 2xx,
 * and applies the delivery controls: drop, duplicate, delay, reorder, down.
 */
export class CallbackDispatcher {
  private readonly held = new Map<string, Queued[]>();
  private readonly inflight = new Set<Promise<void>>();
  private upWaiters: (() => void)[] = [];
  private readonly closing = new AbortController();

  constructor(private readonly deps: DispatcherDeps) {}

  /** Decides at once whether the event is dropped or held; otherwise its delivery starts. */
  enqueue(event: PaymentEvent, url: string | undefined): void {
    const { controls, stats } = this.deps;
    if (this.closing.signal.aborted) return;
    if (!url) {
      stats.deliveries.noCallbackUrl++;
      return;
    }
    if (controls.dropCallbacks > 0) {
      controls.dropCallbacks--;
      stats.deliveries.dropped++;
      return;
    }
    if (controls.reorder) {
      const list = this.held.get(event.paymentId) ?? [];
      list.push({ event, url });
      this.held.set(event.paymentId, list);
      stats.deliveries.held++;
      return;
    }
    this.track(this.dispatch({ event, url }));
  }

  /**
   * Sends every held event, each payment's newest first; the next one of a payment starts only when
   * the previous one has been delivered (or given up), so the receiver sees them in that order.
   */
  releaseHeld(): void {
    const groups = [...this.held.values()];
    this.held.clear();
    this.deps.stats.deliveries.held = 0;
    for (const group of groups) {
      this.track(
        (async () => {
          for (const queued of group.reverse()) await this.dispatch(queued);
        })(),
      );
    }
  }

  /** Call when `down` was turned off: paused deliveries go on. */
  wake(): void {
    const waiters = this.upWaiters;
    this.upWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when no delivery is under way (held events do not count). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Stops every delivery: timers are cancelled and requests in flight aborted. */
  close(): void {
    this.closing.abort();
    this.wake();
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((err) => this.deps.onWarning(`callback dispatch failed: ${String(err)}`));
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }

  /** All copies of one event (duplicateCallbacks) at once; resolves when each is done. */
  private async dispatch({ event, url }: Queued): Promise<void> {
    const copies = Math.max(1, this.deps.controls.duplicateCallbacks);
    const delayMs = this.deps.controls.delayMs;
    // Serialised once: every retry and every duplicate carries the very same bytes.
    const body = JSON.stringify(event);
    await Promise.all(Array.from({ length: copies }, () => this.deliver(event, url, body, delayMs)));
  }

  private async deliver(event: PaymentEvent, url: string, body: string, delayMs: number): Promise<void> {
    const { stats, delivery } = this.deps;
    const signal = this.closing.signal;
    stats.deliveries.pending++;
    try {
      if (delayMs > 0) await sleep(delayMs, undefined, { signal });
      for (let attempt = 1; attempt <= delivery.maxAttempts; attempt++) {
        await this.whileDown();
        if (signal.aborted) return;
        stats.deliveries.attempts++;
        if (await this.post(url, body, attempt)) {
          stats.deliveries.delivered++;
          return;
        }
        stats.deliveries.failedAttempts++;
        if (attempt < delivery.maxAttempts) await sleep(backoffMs(attempt, delivery), undefined, { signal });
      }
      stats.deliveries.gaveUp++;
      this.deps.onWarning(
        `callback ${event.id} (${event.type}) to ${url} given up after ${delivery.maxAttempts} attempts`,
      );
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      stats.deliveries.pending--;
    }
  }

  private async whileDown(): Promise<void> {
    while (this.deps.controls.down && !this.closing.signal.aborted) {
      await new Promise<void>((resolve) => this.upWaiters.push(resolve));
    }
  }

  /** One attempt: true on a 2xx. Timeouts, network errors and other statuses are failures. */
  private async post(url: string, body: string, attempt: number): Promise<boolean> {
    const signature = sign(this.deps.secrets, body, Math.floor(this.deps.nowMs() / 1000));
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'sandbox-payments/1',
          [SIGNATURE_HEADER]: signature,
          'x-delivery-attempt': String(attempt),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.deps.delivery.timeoutMs)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300;
    } catch {
      return false;
    }
  }
}
