import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { WebhookConfig } from '../../config';
import { messageIdOf, payloadOf } from './webhook.payload';
import { retryDelayMs } from './webhook.retry';
import { postWebhook } from './webhook.sender';
import { signedHeaders } from './webhook.signature';
import { claimDue, markDelivered, markFailed, releaseClaims, type ClaimedDelivery } from './webhook.store';
import type { Resolve } from './webhook.url';

/**
 * Sends due deliveries. Every process runs one; they share the work through leases taken with
 * SKIP LOCKED (webhook.store claimDue), so no process is special and none waits for another.
 *
 * - At most `concurrency` attempts in flight per process and `endpointConcurrency` per endpoint
 *   (over all processes): a slow or dead receiver ties up only its own share; the relay never
 *   waits for any of this (it only wakes the dispatcher).
 * - A lease lasts longer than an attempt can (twice the timeout plus a second). A process killed
 *   mid-attempt leaves its lease to run out, then any process sends the delivery again with the
 *   same webhook-id: delivery is at least once, receivers deduplicate by webhook-id.
 * - Only the holder of a claim records an outcome, so an attempt that outlived its lease (or was
 *   overtaken by a redelivery) cannot overwrite a newer one.
 */
export class DeliveryWorker {
  private readonly inFlight = new Map<string, AbortController>();
  private running = false;
  private pending = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private idle: (() => void)[] = [];

  constructor(
    private readonly em: () => EntityManager,
    private readonly config: WebhookConfig,
    private readonly resolve: () => Resolve,
    private readonly log: Logger,
  ) {}

  private get leaseMs(): number {
    return this.config.timeoutMs * 2 + 1000;
  }

  start(): void {
    this.timer = setInterval(() => this.wake(), this.config.pollMs);
    this.wake();
  }

  /** Claims and starts due deliveries now, or right after the running pass. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = true;
    void this.pass()
      .catch((err) => this.log.error({ err }, 'webhook claim failed; retrying on the next tick'))
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
      const free = this.config.concurrency - this.inFlight.size;
      if (free <= 0) return;
      const claimed = await claimDue(this.em(), {
        limit: free,
        perEndpoint: this.config.endpointConcurrency,
        leaseMs: this.leaseMs,
      });
      for (const d of claimed) this.attempt(d);
      if (claimed.length < free) return;
    }
  }

  private attempt(d: ClaimedDelivery): void {
    const abort = new AbortController();
    this.inFlight.set(d.claim_token, abort);
    void this.send(d, abort.signal)
      .catch((err) =>
        this.log.error({ err, delivery: d.id }, 'webhook outcome not recorded; the lease will expire'),
      )
      .finally(() => {
        this.inFlight.delete(d.claim_token);
        if (this.inFlight.size === 0) this.idle.splice(0).forEach((f) => f());
        this.wake(); // a slot is free, and the endpoint may have more
      });
  }

  private async send(d: ClaimedDelivery, signal: AbortSignal): Promise<void> {
    const body = payloadOf(d);
    const outcome = await postWebhook(d.url, signedHeaders(d.secret, messageIdOf(d.id), body), body, {
      timeoutMs: this.config.timeoutMs,
      publicOnly: this.config.publicUrlsOnly,
      resolve: this.resolve(),
      signal,
    });
    if (signal.aborted) return; // shutdown: the claim is given back, this attempt does not count
    if (outcome.ok) {
      await markDelivered(this.em(), d.id, d.claim_token, outcome.statusCode);
      return;
    }
    const failures = d.attempts + 1;
    const status = await markFailed(this.em(), d.id, d.claim_token, {
      statusCode: outcome.statusCode,
      error: outcome.error,
      retryInMs: retryDelayMs(failures, this.config.retryBaseSeconds, this.config.retryMaxSeconds),
    });
    if (status === 'DEAD')
      this.log.warn(
        { delivery: d.id, endpoint: d.endpoint_id, error: outcome.error },
        'webhook delivery is DEAD',
      );
  }

  /** Attempts in flight on this process. */
  get active(): number {
    return this.inFlight.size;
  }

  /**
   * Stops claiming, lets attempts in flight finish for `graceMs`, then aborts the rest and gives
   * their claims back so that another process, or this one after a restart, sends them at once.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.inFlight.size > 0)
      await Promise.race([
        new Promise<void>((r) => this.idle.push(r)),
        new Promise((r) => setTimeout(r, graceMs)),
      ]);
    const left = [...this.inFlight.keys()];
    for (const c of this.inFlight.values()) c.abort();
    await releaseClaims(this.em(), left).catch((err) =>
      this.log.warn({ err: (err as Error).message }, 'webhook claims not released; their leases will expire'),
    );
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }
}
