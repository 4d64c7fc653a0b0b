import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { verify } from '../../sandbox/signature';
import { answer, rawBody } from '../payment/webhook';
import type { FulfillmentService } from './fulfillment.service';
import { ShipmentStatus } from './fulfillment.types';
import type { CarrierEvent } from './tracking.service';

const STATUSES = new Set<string>(Object.values(ShipmentStatus));
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
/** An event dated further ahead than the signature's tolerance is a broken clock, not news. */
const MAX_FUTURE_MS = 300_000;

const text = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.trim().length >= min && v.length <= max;
const optional = (v: unknown, max: number): string | null | undefined =>
  v === undefined || v === null ? null : typeof v === 'string' && v.length <= max ? v : undefined;

/** The event, or null when the body is not a well-formed logistics event. */
export function parseCarrierEvent(v: any, nowMs = Date.now()): CarrierEvent | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  if (!text(v.id, 1, 100) || !text(v.carrier, 1, 100) || !text(v.trackingNumber, 1, 100) || !STATUSES.has(v.status)) return null;
  if (typeof v.occurredAt !== 'string' || !ISO_TIME.test(v.occurredAt)) return null;
  const occurredAt = new Date(v.occurredAt);
  if (Number.isNaN(occurredAt.getTime()) || occurredAt.getTime() > nowMs + MAX_FUTURE_MS) return null;
  const location = optional(v.location, 200);
  const description = optional(v.description, 500);
  if (location === undefined || description === undefined) return null;
  return { id: v.id, carrier: v.carrier.trim(), trackingNumber: v.trackingNumber.trim(), status: v.status as ShipmentStatus, location, description, occurredAt };
}

/**
 * POST /webhooks/logistics: carriers' signed tracking events. The signature (HMAC over timestamp
 * and raw body, ±300 s, several `v1=` allowed) is checked before anything is parsed. Answers:
 * 200 `{ status: applied | recorded | duplicate }`; 400 not a logistics event; 401 bad or missing
 * signature; 404 unknown carrier + tracking number (nothing is stored, so the carrier's retry
 * succeeds once the merchant has entered the number); 500 failure (the carrier retries).
 */
export function logisticsWebhook(orm: MikroORM, fulfillment: FulfillmentService, secrets: () => string[], log: Logger) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return answer(res, 405, { error: 'POST only' });
    const body = await rawBody(req);
    if (body === null) return answer(res, 413, { error: 'body too large' });
    const header = req.headers['x-signature'];
    if (!verify(secrets(), Array.isArray(header) ? header[0] : header, body, Math.floor(Date.now() / 1000))) {
      return answer(res, 401, { error: 'bad or missing signature' });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return answer(res, 400, { error: 'malformed JSON' });
    }
    const event = parseCarrierEvent(parsed);
    if (!event) return answer(res, 400, { error: 'not a logistics event' });
    try {
      const outcome = await fulfillment.handleCarrierEvent(orm.em.fork() as any, event);
      if (outcome === 'unknown') return answer(res, 404, { error: 'unknown carrier and tracking number' });
      answer(res, 200, { status: outcome });
    } catch (err) {
      log.error({ err, eventId: event.id }, 'logistics event failed; the carrier will retry');
      answer(res, 500, { error: 'try again' });
    }
  };
}
