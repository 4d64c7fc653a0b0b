import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { signedWebhook } from '../../server/signed-webhook';
import type { PaymentEvent } from './provider/card-provider';
import type { PaymentService } from './payment.service';

const EVENT_TYPES = new Set(['payment.succeeded', 'payment.failed', 'payment.cancelled', 'refund.succeeded']);

function isEvent(v: any): v is PaymentEvent {
  return (
    v &&
    typeof v.id === 'string' &&
    v.id.length > 0 &&
    v.id.length <= 100 &&
    EVENT_TYPES.has(v.type) &&
    typeof v.reference === 'string' &&
    typeof v.paymentId === 'string' &&
    Number.isSafeInteger(v.amount)
  );
}

/**
 * POST /webhooks/payments: the provider's signed callbacks. Each event id takes effect once; a
 * duplicate answers 200 and changes nothing. A failure answers 500 so the provider retries.
 */
export function paymentWebhook(
  orm: MikroORM,
  payments: PaymentService,
  secrets: () => string[],
  log: Logger,
) {
  return signedWebhook<PaymentEvent>({
    name: 'payment',
    secrets,
    log,
    parse: (json) => (isEvent(json) ? json : null),
    handle: async (event) => ({ status: await payments.handleEvent(orm.em.fork() as any, event) }),
  });
}

/** GET /payments/return: where the provider's hosted page sends the shopper back. */
export async function paymentReturnPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const status = (url.searchParams.get('status') ?? 'unknown').replace(/[^A-Z_a-z]/g, '');
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(
    `<!doctype html><meta charset="utf-8"><title>Payment</title><p>Payment ${status.toLowerCase()}. You can close this page.</p>`,
  );
}
