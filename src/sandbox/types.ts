/**
 * The wire types of the sandbox card provider: what its API answers, what its callbacks carry and
 * what its test controls are. Shared by the service and by the client, which imports types only.
 */

export type PaymentStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export const FINAL_STATUSES: readonly PaymentStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

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

/** Test controls (`POST /control`, partial; `GET /control`). */
export interface Controls {
  /** The next N events are never delivered (their state changes still happen). */
  dropCallbacks: number;
  /** Each event is sent this many times at once (1: normal). */
  duplicateCallbacks: number;
  /** Each event waits this long before its first delivery attempt. */
  delayMs: number;
  /** Events are held per payment while on; turning it off sends each payment's events newest first. */
  reorder: boolean;
  /** Every API call and the hosted page answer 503; callbacks wait until it is off. */
  down: boolean;
  /** The next N refund calls answer 500 without refunding. */
  failRefunds: number;
  /** The next N API calls are performed at once but answered only after `responseDelayMs`. */
  delayResponses: number;
  responseDelayMs: number;
}

export const DEFAULT_CONTROLS: Readonly<Controls> = {
  dropCallbacks: 0,
  duplicateCallbacks: 1,
  delayMs: 0,
  reorder: false,
  down: false,
  failRefunds: 0,
  delayResponses: 0,
  responseDelayMs: 1000,
};

/** `POST /control` also takes `reset: true` (every control back to its default, first). */
export type ControlsUpdate = Partial<Controls> & { reset?: boolean };

export interface SandboxStats {
  /** Requests to `/v1/*`, answered or not (503, 401, ...). */
  apiRequests: number;
  paymentsCreated: number;
  refundsCreated: number;
  events: number;
  deliveries: {
    /** HTTP attempts made, successful or not. */
    attempts: number;
    /** Deliveries (copies of events) answered 2xx. */
    delivered: number;
    failedAttempts: number;
    dropped: number;
    /** Deliveries that ran out of attempts. */
    gaveUp: number;
    /** Events with no callback URL. */
    noCallbackUrl: number;
    /** Deliveries not finished yet (waiting, in backoff, in flight). */
    pending: number;
    /** Events held by `reorder`. */
    held: number;
  };
}

/** `GET /control`. */
export type ControlsView = Controls & { stats: SandboxStats };

/** Every error the API answers: `{ "error": { "code", "message" } }`. */
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
