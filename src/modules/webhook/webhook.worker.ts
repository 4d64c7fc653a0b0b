import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { WebhookConfig } from '../../config';
import { messageIdOf, payloadOf } from './webhook.payload';
import { retryDelayMs } from './webhook.retry';
import { postWebhook } from './webhook.sender';
import { signedHeaders } from './webhook.signature';
import { claimDue, recordAndClaimNext, releaseClaims, type ClaimedDelivery } from './webhook.store';
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
/** Deliveries one worker slot sends in a row for one endpoint before it goes back to the claim loop. */
const CHAIN = 50;

export class DeliveryWorker {
  private readonly inFlight = new Map<string, AbortController>();
  /** Worker slots in use (each sends one delivery at a time). */
  private slots = 0;
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
      const free = this.config.concurrency - this.slots;
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

  /**
   * Runs a worker slot: sends the delivery, records the outcome and takes the same endpoint's next
   * due delivery in one statement, up to CHAIN in a row; then the slot is freed for the claim loop
   * (which visits every endpoint), so a busy endpoint cannot keep a slot from the others for long.
   */
  private attempt(first: ClaimedDelivery): void {
    const abort = new AbortController();
    this.slots++;
    void (async () => {
      let d: ClaimedDelivery | null = first;
      for (let chained = 0; d && !this.stopped; chained++) {
        this.inFlight.set(d.claim_token, abort);
        const current: ClaimedDelivery = d;
        try {
          d = await this.send(current, abort.signal, chained + 1 < CHAIN);
        } catch (err) {
          this.log.error(
            { err, delivery: current.id },
            'webhook outcome not recorded; the lease will expire',
          );
          d = null;
        } finally {
          this.inFlight.delete(current.claim_token);
        }
      }
      if (d) await releaseClaims(this.em(), [d.claim_token]).catch(() => undefined); // stopped meanwhile
    })().finally(() => {
      this.slots--;
      if (this.slots === 0) this.idle.splice(0).forEach((f) => f());
      this.wake(); // a slot is free
    });
  }

  /** One attempt; returns the endpoint's next delivery when it was claimed along with the outcome. */
  private async send(
    d: ClaimedDelivery,
    signal: AbortSignal,
    takeNext: boolean,
  ): Promise<ClaimedDelivery | null> {
    const body = payloadOf(d);
    const outcome = await postWebhook(
      d.url,
      signedHeaders(d.secret, messageIdOf(d.event_id, d.endpoint_id), body),
      body,
      {
        timeoutMs: this.config.timeoutMs,
        publicOnly: this.config.publicUrlsOnly,
        resolve: this.resolve(),
        signal,
      },
    );
    if (signal.aborted) return null; // shutdown: the claim is given back, this attempt does not count
    const r = await recordAndClaimNext(
      this.em(),
      { id: d.id, token: d.claim_token, endpointId: d.endpoint_id },
      outcome.ok
        ? { delivered: true, statusCode: outcome.statusCode }
        : {
            delivered: false,
            statusCode: outcome.statusCode,
            error: outcome.error,
            retryInMs: retryDelayMs(
              d.attempts + 1,
              this.config.retryBaseSeconds,
              this.config.retryMaxSeconds,
            ),
          },
      takeNext && !this.stopped
        ? { perEndpoint: this.config.endpointConcurrency, leaseMs: this.leaseMs }
        : null,
    );
    if (r.recorded === 'DEAD')
      this.log.warn(
        { delivery: d.id, endpoint: d.endpoint_id, error: outcome.ok ? null : outcome.error },
        'webhook delivery is DEAD',
      );
    return r.next;
  }

  /** Attempts in flight on this process. */
  get active(): number {
    return this.slots;
  }

  /**
   * Stops claiming, lets attempts in flight finish for `graceMs`, then aborts the rest and gives
   * their claims back so that another process, or this one after a restart, sends them at once.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.slots > 0)
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
