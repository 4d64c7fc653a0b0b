import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { verify } from '../../sandbox/signature';
import type { PaymentEvent } from '../../sandbox/types';
import type { PaymentService } from './payment.service';

const MAX_BODY = 64 * 1024;
const EVENT_TYPES = new Set(['payment.succeeded', 'payment.failed', 'payment.cancelled', 'refund.succeeded']);

/** The request body as received (the bytes the signature covers); null when it exceeds 64 KiB. */
export function rawBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export const answer = (res: ServerResponse, status: number, body: object) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function isEvent(v: any): v is PaymentEvent {
  return (
    v && typeof v.id === 'string' && v.id.length > 0 && v.id.length <= 100 && EVENT_TYPES.has(v.type) &&
    typeof v.reference === 'string' && typeof v.paymentId === 'string' && Number.isSafeInteger(v.amount)
  );
}

/**
 * POST /webhooks/payments: the provider's signed callbacks. The signature (HMAC over timestamp and
 * raw body, ±300 s) is checked before anything is parsed; each event id takes effect once; a
 * duplicate answers 200 and changes nothing. A failure answers 500 so the provider retries.
 */
export function paymentWebhook(orm: MikroORM, payments: PaymentService, secrets: () => string[], log: Logger) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return answer(res, 405, { error: 'POST only' });
    const body = await rawBody(req);
    if (body === null) return answer(res, 413, { error: 'body too large' });
    const header = req.headers['x-signature'];
    if (!verify(secrets(), Array.isArray(header) ? header[0] : header, body, Math.floor(Date.now() / 1000))) {
      return answer(res, 401, { error: 'bad or missing signature' });
    }
    let event: unknown;
    try {
      event = JSON.parse(body);
    } catch {
      return answer(res, 400, { error: 'malformed JSON' });
    }
    if (!isEvent(event)) return answer(res, 400, { error: 'not a payment event' });
    try {
      const outcome = await payments.handleEvent(orm.em.fork() as any, event);
      answer(res, 200, { status: outcome });
    } catch (err) {
      log.error({ err, eventId: event.id }, 'payment event failed; the provider will retry');
      answer(res, 500, { error: 'try again' });
    }
  };
}

/** GET /payments/return: where the provider's hosted page sends the shopper back. */
export async function paymentReturnPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const status = (url.searchParams.get('status') ?? 'unknown').replace(/[^A-Z_a-z]/g, '');
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><meta charset="utf-8"><title>Payment</title><p>Payment ${status.toLowerCase()}. You can close this page.</p>`);
}
