import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { signedWebhook } from '../../server/signed-webhook';
import type { FulfillmentService } from './fulfillment.service';
import { ShipmentStatus } from './shipment.lifecycle';
import type { CarrierEvent } from './tracking.service';

const STATUSES = new Set<string>(Object.values(ShipmentStatus));
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/;
/** An event dated further ahead than the signature's tolerance is a broken clock, not news. */
const MAX_FUTURE_MS = 300_000;

const text = (v: unknown, min: number, max: number): v is string =>
  typeof v === 'string' && v.trim().length >= min && v.length <= max;
const optional = (v: unknown, max: number): string | null | undefined =>
  v === undefined || v === null ? null : typeof v === 'string' && v.length <= max ? v : undefined;

/** The event, or null when the body is not a well-formed logistics event. */
export function parseCarrierEvent(v: any, nowMs = Date.now()): CarrierEvent | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  if (
    !text(v.id, 1, 100) ||
    !text(v.carrier, 1, 100) ||
    !text(v.trackingNumber, 1, 100) ||
    !STATUSES.has(v.status)
  )
    return null;
  if (typeof v.occurredAt !== 'string' || !ISO_TIME.test(v.occurredAt)) return null;
  const occurredAt = new Date(v.occurredAt);
  if (Number.isNaN(occurredAt.getTime()) || occurredAt.getTime() > nowMs + MAX_FUTURE_MS) return null;
  const location = optional(v.location, 200);
  const description = optional(v.description, 500);
  if (location === undefined || description === undefined) return null;
  return {
    id: v.id,
    carrier: v.carrier.trim(),
    trackingNumber: v.trackingNumber.trim(),
    status: v.status as ShipmentStatus,
    location,
    description,
    occurredAt,
  };
}

/**
 * POST /webhooks/logistics: carriers' signed tracking events. Answers 200 `{ status: applied |
 * recorded | duplicate }`, or 404 for an unknown carrier + tracking number (nothing is stored, so
 * the carrier's retry succeeds once the merchant has entered the number).
 */
export function logisticsWebhook(
  orm: MikroORM,
  fulfillment: FulfillmentService,
  secrets: () => string[],
  log: Logger,
) {
  return signedWebhook<CarrierEvent>({
    name: 'logistics',
    secrets,
    log,
    parse: (json) => parseCarrierEvent(json),
    handle: async (event) => {
      const outcome = await fulfillment.handleCarrierEvent(orm.em.fork() as any, event);
      if (outcome === 'ambiguous') {
        // Held: applied to no parcel. The carrier retries (409); an operator resolves the duplicate.
        log.warn(
          { carrier: event.carrier, eventId: event.id },
          'carrier event matches several active shipments; held',
        );
        return { status: outcome, http: 409, error: 'tracking number is on several active shipments' };
      }
      return outcome === 'unknown'
        ? { status: outcome, http: 404, error: 'unknown carrier and tracking number' }
        : { status: outcome };
    },
  });
}
