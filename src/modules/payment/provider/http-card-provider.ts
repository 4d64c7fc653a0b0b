import { setTimeout as sleep } from 'node:timers/promises';
import {
  ProviderProtocolError,
  ProviderRequestError,
  ProviderUnavailableError,
  type CardProvider,
  type CircuitState,
  type CreatedPayment,
  type CreatePaymentRequest,
  type PaymentView,
  type RefundRequest,
  type RefundView,
} from './card-provider';

/**
 * The card provider over its REST API (the sandbox serves the same API).
 *
 * - Every HTTP attempt has its own timeout.
 * - Network errors, timeouts, 5xx and 429 are retried (bounded, exponential backoff with jitter),
 *   with the same Idempotency-Key, so a create or refund whose answer was lost happens once.
 * - 4xx answers are a `ProviderRequestError` with the provider's code, never retried.
 * - A circuit breaker counts consecutive failed attempts; at the threshold it opens, and for
 *   `openMs` every call fails at once with `ProviderUnavailableError` (reason 'circuit_open')
 *   without touching the network. Then one probe attempt is let through: success closes it,
 *   failure opens it again.
 */

export interface BreakerOptions {
  /** Consecutive failed attempts that open the circuit. */
  failureThreshold: number;
  openMs: number;
}

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private current: CircuitState = 'closed';
  private probing = false;

  constructor(
    private readonly opts: BreakerOptions,
    private readonly now: () => number = Date.now,
    private readonly onChange?: (state: CircuitState) => void,
  ) {}

  state(): CircuitState {
    if (this.current === 'open' && this.now() >= this.openUntil) return 'half-open';
    return this.current;
  }

  /** Before an attempt: throws when the circuit is open, or half-open with its probe under way. */
  acquire(): void {
    if (this.current === 'closed') return;
    const wait = this.openUntil - this.now();
    if (this.current === 'open' && wait > 0) {
      throw new ProviderUnavailableError('circuit_open', 'payment provider circuit is open', undefined, wait);
    }
    if (this.current === 'open') this.set('half-open');
    if (this.probing) {
      throw new ProviderUnavailableError(
        'circuit_open',
        'payment provider circuit is half-open, probe under way',
      );
    }
    this.probing = true;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.set('closed');
  }

  failure(): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || this.current === 'half-open' || this.failures >= this.opts.failureThreshold) {
      this.openUntil = this.now() + this.opts.openMs;
      this.set('open');
    }
  }

  private set(state: CircuitState): void {
    if (this.current === state) return;
    this.current = state;
    this.onChange?.(state);
  }
}

export interface HttpCardProviderOptions {
  /** The provider's base URL, e.g. http://127.0.0.1:4010 */
  baseUrl: string;
  apiKey: string;
  /** Per attempt (5000). */
  timeoutMs?: number;
  /** Further attempts after the first (2). */
  retries?: number;
  /** Backoff before retry n: up to min(retryMaxMs, retryBaseMs * 2^(n-1)) (100, 2000). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  breaker?: Partial<BreakerOptions>;
  onCircuitChange?: (state: CircuitState) => void;
  now?: () => number;
}

const TRANSIENT_STATUS = (status: number) => status >= 500 || status === 429;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

export class HttpCardProvider implements CardProvider {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly breaker: CircuitBreaker;

  constructor(private readonly opts: HttpCardProviderOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.retries = Math.max(0, opts.retries ?? 2);
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 2_000;
    this.breaker = new CircuitBreaker(
      { failureThreshold: opts.breaker?.failureThreshold ?? 5, openMs: opts.breaker?.openMs ?? 30_000 },
      opts.now,
      opts.onCircuitChange,
    );
  }

  circuitState(): CircuitState {
    return this.breaker.state();
  }

  createPayment(input: CreatePaymentRequest, opts: { idempotencyKey: string }): Promise<CreatedPayment> {
    return this.request<CreatedPayment>('POST', '/v1/payments', input, opts.idempotencyKey);
  }

  getPayment(id: string): Promise<PaymentView> {
    return this.request<PaymentView>('GET', `/v1/payments/${encodeURIComponent(id)}`);
  }

  /** Idempotent: cancelling a cancelled payment answers it again. A paid one is a 409. */
  cancelPayment(id: string): Promise<PaymentView> {
    return this.request<PaymentView>('POST', `/v1/payments/${encodeURIComponent(id)}/cancel`, {});
  }

  refund(paymentId: string, input: RefundRequest, opts: { idempotencyKey: string }): Promise<RefundView> {
    return this.request<RefundView>(
      'POST',
      `/v1/payments/${encodeURIComponent(paymentId)}/refunds`,
      input,
      opts.idempotencyKey,
    );
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<T> {
    if (idempotencyKey !== undefined && idempotencyKey.length === 0) {
      throw new TypeError('idempotencyKey must not be empty');
    }
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.opts.apiKey}`,
      accept: 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const payload = body === undefined ? undefined : JSON.stringify(body);

    for (let attempt = 0; ; attempt++) {
      this.breaker.acquire();
      const outcome = await this.send(method, path, headers, payload);
      if ('text' in outcome) {
        this.breaker.success();
        return this.result<T>(outcome.status, outcome.text);
      }
      this.breaker.failure();
      if (attempt >= this.retries) throw outcome.failure;
      const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** attempt);
      // Jitter spreads the retries of many callers; a Retry-After is honoured up to retryMaxMs.
      const wait = Math.max(
        backoff * (0.5 + Math.random() * 0.5),
        Math.min(outcome.retryAfterMs, this.retryMaxMs),
      );
      await sleep(wait);
    }
  }

  /** One HTTP attempt: an answer to hand back (2xx, 4xx), or a failure worth a retry. */
  private async send(
    method: string,
    path: string,
    headers: Record<string, string>,
    payload: string | undefined,
  ): Promise<{ status: number; text: string } | { failure: ProviderUnavailableError; retryAfterMs: number }> {
    try {
      const res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      if (!TRANSIENT_STATUS(res.status)) return { status: res.status, text };
      return {
        failure: new ProviderUnavailableError(
          'server_error',
          `payment provider answered ${res.status} to ${method} ${path}`,
          res.status,
        ),
        retryAfterMs: Number(res.headers.get('retry-after')) * 1000 || 0,
      };
    } catch (e) {
      const timeout = isObject(e) && e.name === 'TimeoutError';
      const message = timeout
        ? `payment provider did not answer ${method} ${path} within ${this.timeoutMs} ms`
        : `payment provider unreachable for ${method} ${path}: ${String(e)}`;
      const failure = new ProviderUnavailableError(
        timeout ? 'timeout' : 'network',
        message,
        undefined,
        undefined,
        {
          cause: e,
        },
      );
      return { failure, retryAfterMs: 0 };
    }
  }

  private result<T>(status: number, text: string): T {
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status >= 200 && status < 300) {
      if (!isObject(json) || typeof json.id !== 'string') {
        throw new ProviderProtocolError(
          `payment provider answered ${status} without a JSON object with an id`,
        );
      }
      return json as T;
    }
    const error = isObject(json) && isObject(json.error) ? json.error : {};
    const code = typeof error.code === 'string' ? error.code : `http_${status}`;
    const message = typeof error.message === 'string' ? error.message : `payment provider answered ${status}`;
    throw new ProviderRequestError(status, code, message);
  }
}
