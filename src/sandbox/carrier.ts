import { randomUUID } from 'node:crypto';
import { sign, SIGNATURE_HEADER } from './signature';

/**
 * A sandbox carrier: builds logistics events (DESIGN.md "HTTP surface"), signs them like a carrier
 * would and POSTs them to the server's /webhooks/logistics. Used by `npm run carrier` and by tests.
 */

export const CARRIER_STATUSES = [
  'LABEL_CREATED',
  'IN_TRANSIT',
  'OUT_FOR_DELIVERY',
  'DELIVERED',
  'EXCEPTION',
] as const;
export type CarrierStatus = (typeof CARRIER_STATUSES)[number];

/** A parcel's usual way from label to doorstep. */
export const JOURNEY: readonly CarrierStatus[] = [
  'LABEL_CREATED',
  'IN_TRANSIT',
  'OUT_FOR_DELIVERY',
  'DELIVERED',
];

export interface LogisticsEvent {
  id: string;
  carrier: string;
  trackingNumber: string;
  status: CarrierStatus;
  location: string | null;
  description: string | null;
  /** ISO time. */
  occurredAt: string;
}

export interface PostResult {
  status: number;
  body: unknown;
}

export interface PostOptions {
  /** One or several secrets (a `v1=` each); default: the event is signed with `secret` only. */
  secret: string | readonly string[];
  /** The signing time in unix seconds (tests sign stale or future ones); default now. */
  nowSeconds?: number;
  /** Replaces the computed X-Signature header (null: none is sent). */
  signature?: string | null;
  /** Sends these bytes instead of the event's JSON (malformed bodies in tests). */
  rawBody?: string;
}

/** The webhook URL for a server base URL (`http://127.0.0.1:4000`, its /graphql URL, or the webhook URL itself). */
export function logisticsWebhookUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname.endsWith('/webhooks/logistics')) return u.toString();
  u.pathname = u.pathname.replace(/\/graphql\/?$/, '').replace(/\/+$/, '') + '/webhooks/logistics';
  return u.toString();
}

/** An event with a fresh id and the current time, unless given. */
export function carrierEvent(
  e: Pick<LogisticsEvent, 'carrier' | 'trackingNumber' | 'status'> & Partial<LogisticsEvent>,
): LogisticsEvent {
  return {
    id: e.id ?? `evt_${randomUUID()}`,
    carrier: e.carrier,
    trackingNumber: e.trackingNumber,
    status: e.status,
    location: e.location ?? null,
    description: e.description ?? null,
    occurredAt: e.occurredAt ?? new Date().toISOString(),
  };
}

/** Signs and POSTs one event; the server's answer (2xx or not) is returned, never thrown. */
export async function postCarrierEvent(
  url: string,
  event: LogisticsEvent,
  opts: PostOptions,
): Promise<PostResult> {
  const body = opts.rawBody ?? JSON.stringify(event);
  const signature =
    opts.signature === undefined
      ? sign(opts.secret, body, opts.nowSeconds ?? Math.floor(Date.now() / 1000))
      : opts.signature;
  const res = await fetch(logisticsWebhookUrl(url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature === null ? {} : { [SIGNATURE_HEADER]: signature }),
    },
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

/**
 * The whole journey of a parcel, one event per status, `stepMs` apart in `occurredAt` (ending now
 * by default), posted in order.
 */
export async function postJourney(
  url: string,
  parcel: { carrier: string; trackingNumber: string; location?: string },
  opts: PostOptions & { stepMs?: number; endAt?: Date; statuses?: readonly CarrierStatus[] },
): Promise<{ event: LogisticsEvent; result: PostResult }[]> {
  const statuses = opts.statuses ?? JOURNEY;
  const step = opts.stepMs ?? 60_000;
  const end = (opts.endAt ?? new Date()).getTime();
  const out: { event: LogisticsEvent; result: PostResult }[] = [];
  for (const [i, status] of statuses.entries()) {
    const event = carrierEvent({
      carrier: parcel.carrier,
      trackingNumber: parcel.trackingNumber,
      status,
      location: parcel.location ?? null,
      description: `sandbox carrier: ${status.toLowerCase().replace(/_/g, ' ')}`,
      occurredAt: new Date(end - (statuses.length - 1 - i) * step).toISOString(),
    });
    out.push({ event, result: await postCarrierEvent(url, event, opts) });
  }
  return out;
}
