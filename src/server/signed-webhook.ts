import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { verify } from '../shared/signature';
import { unavailableReason } from '../db/pg-errors';

const MAX_BODY = 64 * 1024;

/** The request body as received (the bytes the signature covers); null when it exceeds 64 KiB. */
function rawBody(req: IncomingMessage): Promise<string | null> {
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

export interface SignedWebhook<E extends { id: string }> {
  /** What the events are, for messages ("payment", "logistics"). */
  name: string;
  secrets: () => string[];
  /** The event, or null when the JSON is not one. */
  parse(json: unknown): E | null;
  /** Applies the event; answers 200 with `{ status }` unless it returns another status. */
  handle(event: E): Promise<{ status: string; http?: number; error?: string }>;
  log: Logger;
}

/**
 * A POST endpoint for signed events (DESIGN.md: `X-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
 * "t.body")>`, ±300 s, several `v1=` for secret rotation). The signature is checked over the raw
 * body before anything is parsed. 400: not an event; 401: bad or missing signature; 413: too large;
 * 503 (with Retry-After): the database is unavailable; 500: the handler failed (the sender retries
 * either way; each event id takes effect once).
 */
export function signedWebhook<E extends { id: string }>(w: SignedWebhook<E>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return answer(res, 405, { error: 'POST only' });
    const body = await rawBody(req);
    if (body === null) return answer(res, 413, { error: 'body too large' });
    const header = req.headers['x-signature'];
    if (
      !verify(w.secrets(), Array.isArray(header) ? header[0] : header, body, Math.floor(Date.now() / 1000))
    ) {
      return answer(res, 401, { error: 'bad or missing signature' });
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return answer(res, 400, { error: 'malformed JSON' });
    }
    const event = w.parse(json);
    if (!event) return answer(res, 400, { error: `not a ${w.name} event` });
    try {
      const r = await w.handle(event);
      answer(res, r.http ?? 200, r.error ? { error: r.error } : { status: r.status });
    } catch (err) {
      // The database could not serve (issue 9): 503 + Retry-After, so the sender retries and
      // operators do not read an outage as a defect.
      const outage = unavailableReason(err);
      if (outage) {
        w.log.warn({ err, eventId: event.id, reason: outage }, `${w.name} event: database unavailable`);
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end(JSON.stringify({ error: 'temporarily unavailable; retry', retryable: true }));
        return;
      }
      w.log.error({ err, eventId: event.id }, `${w.name} event failed; the sender will retry`);
      answer(res, 500, { error: 'try again' });
    }
  };
}
