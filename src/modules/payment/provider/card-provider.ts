/**
 * The card provider as the payment domain sees it: create a payment (the buyer pays on the
 * provider's hosted page), read it, cancel it, refund it; the events its signed callbacks carry;
 * and the errors a caller must tell apart (unavailable: retry later; request: the provider refused).
 *
 * The wire types are those of the provider's REST API, which `HttpCardProvider` speaks and which
 * the sandbox provider (a separate program, for development and tests) serves. Another provider is
 * one more implementation of `CardProvider`; `test/integration/card-provider-contract.test.ts` is
 * the contract every implementation must pass.
 */

export interface CardProvider {
  createPayment(input: CreatePaymentRequest, opts: { idempotencyKey: string }): Promise<CreatedPayment>;
  getPayment(id: string): Promise<PaymentView>;
  /** Idempotent: cancelling a cancelled payment answers it again; a paid one is a ProviderRequestError. */
  cancelPayment(id: string): Promise<PaymentView>;
  refund(paymentId: string, input: RefundRequest, opts: { idempotencyKey: string }): Promise<RefundView>;
  /** The circuit breaker's state, for metrics and readiness. */
  circuitState(): CircuitState;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export type PaymentStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** `POST /v1/payments`. Amounts are integer minor units (a JSON number, at most 2^53 - 1). */
export interface CreatePaymentRequest {
  amount: number;
  /** ISO 4217, upper case. */
  currency: string;
  /** The merchant's own reference (the main server's payment id), echoed in every event. */
  reference: string;
  /** Where the hosted page sends the buyer when they have paid or declined. */
  returnUrl?: string;
  /** Where events are POSTed; the service's default callback URL when absent. */
  callbackUrl?: string;
}

/** The answer to `POST /v1/payments`. */
export interface CreatedPayment {
  id: string;
  status: PaymentStatus;
  amount: number;
  currency: string;
  reference: string;
  /** The hosted payment page: `<public URL>/pay/<id>`. */
  redirectUrl: string;
  createdAt: string;
}

export interface RefundView {
  id: string;
  paymentId: string;
  status: 'SUCCEEDED';
  amount: number;
  createdAt: string;
}

/** The answer to `GET /v1/payments/:id` and `POST /v1/payments/:id/cancel`. */
export interface PaymentView extends CreatedPayment {
  /** Sum of the refunds, never above `amount`. */
  refunded: number;
  updatedAt: string;
  refunds: RefundView[];
}

export interface RefundRequest {
  amount: number;
}

export type EventType = 'payment.succeeded' | 'payment.failed' | 'payment.cancelled' | 'refund.succeeded';

/**
 * The JSON body of a callback. `id` is unique per event and identical in every delivery of it
 * (retries and duplicates), so a receiver can process each event once. `amount` is the payment's
 * amount, or the refund's for `refund.succeeded`.
 */
export interface PaymentEvent {
  id: string;
  type: EventType;
  paymentId: string;
  refundId?: string;
  amount: number;
  currency: string;
  reference: string;
  occurredAt: string;
}

/** Every error the provider's API answers: `{ "error": { "code", "message" } }`. */
export type ApiErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'idempotency_key_reused'
  | 'payment_not_cancellable'
  | 'payment_not_refundable'
  | 'refund_exceeds_payment'
  | 'simulated_failure'
  | 'unavailable'
  | 'internal';

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}

export class ProviderError extends Error {
  override name = 'ProviderError';
}

export type UnavailableReason = 'circuit_open' | 'timeout' | 'network' | 'server_error';

/** The provider could not be reached or answered 5xx/429 (after the retries), or the circuit is open. */
export class ProviderUnavailableError extends ProviderError {
  override name = 'ProviderUnavailableError';
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    readonly status?: number,
    /** With 'circuit_open': when the next probe will be allowed. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The provider refused the request (4xx): not retried. `code` is the provider's error code. */
export class ProviderRequestError extends ProviderError {
  override name = 'ProviderRequestError';
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode | (string & {}),
    message: string,
  ) {
    super(message);
  }
}

/** A 2xx whose body is not what the API promises. */
export class ProviderProtocolError extends ProviderError {
  override name = 'ProviderProtocolError';
}
