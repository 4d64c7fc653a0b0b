import { createHash, randomBytes } from 'node:crypto';
import { CallbackDispatcher, DEFAULT_DELIVERY, type DeliveryOptions } from './delivery';
import {
  DEFAULT_CONTROLS,
  type Controls,
  type ControlsUpdate,
  type ControlsView,
  type CreatedPayment,
  type CreatePaymentRequest,
  type EventType,
  type PaymentEvent,
  type PaymentStatus,
  type PaymentView,
  type RefundView,
  type SandboxStats,
} from './types';
import { canonical, invalid, isObject, positiveAmount, SandboxError } from './requests';

export { parseControls, parseCreatePayment, parseIdempotencyKey, SandboxError } from './requests';

export interface Payment {
  id: string;
  amount: number;
  currency: string;
  reference: string;
  status: PaymentStatus;
  refunded: number;
  createdAt: string;
  updatedAt: string;
  callbackUrl?: string;
  returnUrl?: string;
}

export interface Refund {
  id: string;
  paymentId: string;
  amount: number;
  createdAt: string;
}

export interface ApiResult {
  status: number;
  body: unknown;
}

export interface ProviderOptions {
  /** Callbacks are signed with each of these (several during a rotation). */
  webhookSecret: string | readonly string[];
  /** Used for payments created without a callbackUrl. */
  defaultCallbackUrl?: string;
  delivery?: Partial<DeliveryOptions>;
  /** Milliseconds since the epoch; tests may move it. */
  now?: () => number;
  onWarning?: (message: string) => void;
}

/** Stored idempotent results are forgotten after this long (a real provider keeps them ~24 h). */
const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
const MAX_EVENTS_KEPT = 10_000;

const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/**
 * The provider's state, in memory: payments, refunds, stored idempotent results, emitted events and
 * the test controls. Every operation is synchronous, so two requests never interleave inside one.
 */
export class SandboxProvider {
  /** Set by the server once it knows its address; hosted pages are under it. */
  publicUrl = '';
  readonly controls: Controls = { ...DEFAULT_CONTROLS };
  readonly stats: SandboxStats = {
    apiRequests: 0,
    paymentsCreated: 0,
    refundsCreated: 0,
    events: 0,
    deliveries: {
      attempts: 0,
      delivered: 0,
      failedAttempts: 0,
      dropped: 0,
      gaveUp: 0,
      noCallbackUrl: 0,
      pending: 0,
      held: 0,
    },
  };
  /** The events emitted, oldest first (the last 10 000). */
  readonly events: PaymentEvent[] = [];

  private readonly payments = new Map<string, Payment>();
  private readonly refunds = new Map<string, Refund[]>();
  private readonly idempotency = new Map<string, { hash: string; result: ApiResult; at: number }>();
  private readonly dispatcher: CallbackDispatcher;
  private readonly now: () => number;
  private readonly defaultCallbackUrl?: string;

  constructor(opts: ProviderOptions) {
    const secrets = typeof opts.webhookSecret === 'string' ? [opts.webhookSecret] : [...opts.webhookSecret];
    if (secrets.length === 0 || secrets.some((s) => !s)) throw new Error('webhookSecret must not be empty');
    this.now = opts.now ?? Date.now;
    this.defaultCallbackUrl = opts.defaultCallbackUrl;
    this.dispatcher = new CallbackDispatcher({
      secrets,
      delivery: { ...DEFAULT_DELIVERY, ...opts.delivery },
      controls: this.controls,
      stats: this.stats,
      nowMs: this.now,
      onWarning: opts.onWarning ?? (() => undefined),
    });
  }

  /**
   * Runs `run` once per (scope, key): a repeat with the same request gets the stored result, a
   * repeat with a different request a 409. Validation errors (400), unknown payments (404) and
   * server errors are not stored, so a corrected or later retry can still succeed.
   */
  idempotent(
    scope: string,
    key: string,
    request: unknown,
    run: () => ApiResult,
  ): ApiResult & { replayed: boolean } {
    this.forgetOldResults();
    const id = `${scope}\n${key}`;
    const hash = createHash('sha256').update(canonical(request)).digest('hex');
    const stored = this.idempotency.get(id);
    if (stored) {
      if (stored.hash !== hash) {
        throw new SandboxError(
          409,
          'idempotency_key_reused',
          'this Idempotency-Key was used with a different request',
        );
      }
      return { ...stored.result, replayed: true };
    }
    let result: ApiResult;
    try {
      result = run();
    } catch (e) {
      if (!(e instanceof SandboxError) || (e.status !== 409 && e.status !== 422)) throw e;
      result = { status: e.status, body: e.body() };
    }
    this.idempotency.set(id, { hash, result, at: this.now() });
    return { ...result, replayed: false };
  }

  createPayment(input: CreatePaymentRequest): CreatedPayment {
    const at = this.isoNow();
    const payment: Payment = {
      id: newId('pay'),
      amount: input.amount,
      currency: input.currency,
      reference: input.reference,
      status: 'PENDING',
      refunded: 0,
      createdAt: at,
      updatedAt: at,
      callbackUrl: input.callbackUrl ?? this.defaultCallbackUrl,
      returnUrl: input.returnUrl,
    };
    this.payments.set(payment.id, payment);
    this.refunds.set(payment.id, []);
    this.stats.paymentsCreated++;
    return this.created(payment);
  }

  find(id: string): Payment | undefined {
    return this.payments.get(id);
  }

  /** The payment, or a 404. */
  get(id: string): Payment {
    const payment = this.payments.get(id);
    if (!payment) throw new SandboxError(404, 'not_found', `no payment ${id}`);
    return payment;
  }

  view(id: string): PaymentView {
    const p = this.get(id);
    return {
      ...this.created(p),
      refunded: p.refunded,
      updatedAt: p.updatedAt,
      refunds: (this.refunds.get(id) ?? []).map((r) => this.refundView(r)),
    };
  }

  redirectUrl(id: string): string {
    return `${this.publicUrl}/pay/${id}`;
  }

  /** The buyer paid or declined on the hosted page. A final payment does not change. */
  settle(id: string, action: 'pay' | 'decline'): Payment {
    const p = this.get(id);
    if (p.status !== 'PENDING') return p;
    this.transition(p, action === 'pay' ? 'SUCCEEDED' : 'FAILED');
    this.emit(action === 'pay' ? 'payment.succeeded' : 'payment.failed', p);
    return p;
  }

  /** Cancelling a cancelled payment changes nothing; a paid or failed one cannot be cancelled. */
  cancel(id: string): PaymentView {
    const p = this.get(id);
    if (p.status === 'PENDING') {
      this.transition(p, 'CANCELLED');
      this.emit('payment.cancelled', p);
    } else if (p.status !== 'CANCELLED') {
      throw new SandboxError(409, 'payment_not_cancellable', `payment ${id} is ${p.status}`);
    }
    return this.view(id);
  }

  refund(paymentId: string, body: unknown): RefundView {
    const p = this.get(paymentId);
    if (!isObject(body)) throw invalid('body must be a JSON object');
    const amount = positiveAmount(body.amount);
    if (p.status !== 'SUCCEEDED') {
      throw new SandboxError(
        409,
        'payment_not_refundable',
        `payment ${paymentId} is ${p.status}, not SUCCEEDED`,
      );
    }
    if (amount > p.amount - p.refunded) {
      throw new SandboxError(
        422,
        'refund_exceeds_payment',
        `refund of ${amount} exceeds what is left to refund (${p.amount - p.refunded})`,
      );
    }
    const refund: Refund = { id: newId('re'), paymentId, amount, createdAt: this.isoNow() };
    this.refunds.get(paymentId)!.push(refund);
    p.refunded += amount;
    p.updatedAt = refund.createdAt;
    this.stats.refundsCreated++;
    this.emit('refund.succeeded', p, refund);
    return this.refundView(refund);
  }

  /** Applies a partial update of the controls and returns them all. */
  setControls(update: ControlsUpdate): Controls {
    const wasDown = this.controls.down;
    const wasReordering = this.controls.reorder;
    const { reset, ...rest } = update;
    if (reset) Object.assign(this.controls, DEFAULT_CONTROLS);
    Object.assign(this.controls, rest);
    if (wasReordering && !this.controls.reorder) this.dispatcher.releaseHeld();
    if (wasDown && !this.controls.down) this.dispatcher.wake();
    return { ...this.controls };
  }

  controlsView(): ControlsView {
    return { ...this.controls, stats: structuredClone(this.stats) };
  }

  /** Counts a refund call against `failRefunds`: true when this one must fail. */
  takeRefundFailure(): boolean {
    if (this.controls.failRefunds <= 0) return false;
    this.controls.failRefunds--;
    return true;
  }

  /** Counts an API response against `delayResponses`: how long to hold it back. */
  takeResponseDelay(): number {
    if (this.controls.delayResponses <= 0) return 0;
    this.controls.delayResponses--;
    return this.controls.responseDelayMs;
  }

  /** Resolves when no callback delivery is under way. */
  idle(): Promise<void> {
    return this.dispatcher.idle();
  }

  close(): void {
    this.dispatcher.close();
  }

  private created(p: Payment): CreatedPayment {
    return {
      id: p.id,
      status: p.status,
      amount: p.amount,
      currency: p.currency,
      reference: p.reference,
      redirectUrl: this.redirectUrl(p.id),
      createdAt: p.createdAt,
    };
  }

  private refundView(r: Refund): RefundView {
    return {
      id: r.id,
      paymentId: r.paymentId,
      status: 'SUCCEEDED',
      amount: r.amount,
      createdAt: r.createdAt,
    };
  }

  private transition(p: Payment, status: PaymentStatus): void {
    p.status = status;
    p.updatedAt = this.isoNow();
  }

  private emit(type: EventType, p: Payment, refund?: Refund): void {
    const event: PaymentEvent = {
      id: newId('evt'),
      type,
      paymentId: p.id,
      ...(refund ? { refundId: refund.id } : {}),
      amount: refund ? refund.amount : p.amount,
      currency: p.currency,
      reference: p.reference,
      occurredAt: this.isoNow(),
    };
    this.events.push(event);
    if (this.events.length > MAX_EVENTS_KEPT) this.events.shift();
    this.stats.events++;
    this.dispatcher.enqueue(event, p.callbackUrl);
  }

  private isoNow(): string {
    return new Date(this.now()).toISOString();
  }

  private forgetOldResults(): void {
    const cutoff = this.now() - IDEMPOTENCY_TTL_MS;
    // Insertion order is time order: stop at the first young entry.
    for (const [id, entry] of this.idempotency) {
      if (entry.at >= cutoff) break;
      this.idempotency.delete(id);
    }
  }
}
