import type { ApiErrorBody, ApiErrorCode, Controls, ControlsUpdate, CreatePaymentRequest } from './types';

/**
 * What the sandbox provider accepts: the checks and parsing of request bodies and headers, and the
 * error they answer with. The provider's state and operations are in provider.ts.
 */

/** An expected failure of an API call, answered as `{ error: { code, message } }` with `status`. */
export class SandboxError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Sent with the answer (Allow, Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'SandboxError';
  }

  body(): ApiErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

const MAX_REFERENCE = 200;
const MAX_URL = 2048;
const MAX_KEY = 255;
const CURRENCY = /^[A-Z]{3}$/;

/** JSON with sorted keys, so that the same request hashes the same whatever its key order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const invalid = (message: string) => new SandboxError(400, 'invalid_request', message);

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function positiveAmount(v: unknown, field = 'amount'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw invalid(`${field} must be a positive integer number of minor units (at most 2^53 - 1)`);
  }
  return v;
}

function optionalUrl(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > MAX_URL) throw invalid(`${field} must be an http(s) URL`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw invalid(`${field} must be an http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`${field} must be an http(s) URL`);
  return url.toString();
}

/** Schemes that would run code or read local data where the browser lands. */
const UNSAFE_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:']);

/** Where the shopper goes after paying: an http(s) page, or an app link such as myapp://orders/1. */
function optionalReturnUrl(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const message = 'returnUrl must be an http(s) URL or an app link (myapp://…)';
  if (typeof v !== 'string' || v.length > MAX_URL) throw invalid(message);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw invalid(message);
  }
  if (UNSAFE_SCHEMES.has(url.protocol) || url.username || url.password) throw invalid(message);
  return url.toString();
}

export function parseCreatePayment(body: unknown): CreatePaymentRequest {
  if (!isObject(body)) throw invalid('body must be a JSON object');
  const amount = positiveAmount(body.amount);
  const { currency, reference } = body;
  if (typeof currency !== 'string' || !CURRENCY.test(currency)) {
    throw invalid('currency must be an ISO 4217 code in upper case');
  }
  if (typeof reference !== 'string' || reference.trim() === '' || reference.length > MAX_REFERENCE) {
    throw invalid(`reference must be a non-empty string of at most ${MAX_REFERENCE} characters`);
  }
  return {
    amount,
    currency,
    reference,
    returnUrl: optionalReturnUrl(body.returnUrl),
    callbackUrl: optionalUrl(body.callbackUrl, 'callbackUrl'),
  };
}

export function parseIdempotencyKey(v: string | string[] | undefined): string {
  const key = Array.isArray(v) ? v[0] : v;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY) {
    throw invalid(`the Idempotency-Key header is required (1 to ${MAX_KEY} characters)`);
  }
  return key;
}

const COUNTS: readonly (keyof Controls)[] = ['dropCallbacks', 'failRefunds', 'delayResponses'];
const DURATIONS: readonly (keyof Controls)[] = ['delayMs', 'responseDelayMs'];
const FLAGS: readonly (keyof Controls)[] = ['reorder', 'down'];

export function parseControls(body: unknown): ControlsUpdate {
  if (!isObject(body)) throw invalid('body must be a JSON object');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'reset' || FLAGS.includes(k as keyof Controls)) {
      if (typeof v !== 'boolean') throw invalid(`${k} must be a boolean`);
    } else if (COUNTS.includes(k as keyof Controls) || DURATIONS.includes(k as keyof Controls)) {
      if (!Number.isSafeInteger(v) || (v as number) < 0) throw invalid(`${k} must be a non-negative integer`);
      if (DURATIONS.includes(k as keyof Controls) && (v as number) > 600_000)
        throw invalid(`${k} is at most 600000`);
    } else if (k === 'duplicateCallbacks') {
      if (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > 100) {
        throw invalid('duplicateCallbacks must be an integer from 1 to 100');
      }
    } else {
      throw invalid(`unknown control ${k}`);
    }
    out[k] = v;
  }
  return out as ControlsUpdate;
}
