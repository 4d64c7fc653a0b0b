/**
 * The sandbox card provider's own types: its test controls and statistics. The API it serves and the
 * callbacks it sends are the card provider API of the payment domain, re-exported here.
 */
import type { PaymentStatus } from '../modules/payment/provider/card-provider';

export type {
  ApiErrorBody,
  ApiErrorCode,
  CreatedPayment,
  CreatePaymentRequest,
  EventType,
  PaymentEvent,
  PaymentStatus,
  PaymentView,
  RefundRequest,
  RefundView,
} from '../modules/payment/provider/card-provider';

export const FINAL_STATUSES: readonly PaymentStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

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
