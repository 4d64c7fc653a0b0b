import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryOptions } from './delivery';
import { errorPage, paymentPage, resultPage, returnLocation } from './page';
import {
  parseControls,
  parseCreatePayment,
  parseIdempotencyKey,
  SandboxError,
  SandboxProvider,
  type ApiResult,
} from './provider';

/**
 * The sandbox card provider over HTTP:
 *   POST /v1/payments                  create (Idempotency-Key) → 201 { id, status, redirectUrl, ... }
 *   GET  /v1/payments/:id              status
 *   POST /v1/payments/:id/cancel       cancel a pending payment
 *   POST /v1/payments/:id/refunds      refund (Idempotency-Key) → 201 { id, status, amount, ... }
 *   GET  /pay/:id, POST /pay/:id       the hosted page; action=pay|decline
 *   GET  /control, POST /control       test controls and counters
 *   GET  /healthz
 * `/v1/*` needs `Authorization: Bearer <api key>`.
 */

export interface SandboxOptions {
  apiKey: string;
  webhookSecret: string | readonly string[];
  /** 0 (the default): any free port. */
  port?: number;
  host?: string;
  /** Where browsers reach this service (hosted page URLs); defaults to http://<host>:<port>. */
  publicUrl?: string;
  /** For payments created without a callbackUrl. */
  defaultCallbackUrl?: string;
  delivery?: Partial<DeliveryOptions>;
  now?: () => number;
  onWarning?: (message: string) => void;
}

export interface RunningSandbox {
  /** The public URL, without a trailing slash. */
  url: string;
  port: number;
  provider: SandboxProvider;
  server: Server;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const PAYMENT_ID = /^[A-Za-z0-9_]{1,64}$/;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // No form-action: browsers apply it to the redirect after the form, which goes to the shop.
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
};

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...HTML_HEADERS, 'content-length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new SandboxError(413, 'payload_too_large', `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = (await readBody(req)).toString('utf8');
  if (raw.trim() === '') {
    throw new SandboxError(400, 'invalid_request', 'a JSON body is required');
  }
  try {
    return JSON.parse(raw);
  } catch {
    throw new SandboxError(400, 'invalid_request', 'the body is not valid JSON');
  }
}

const isJson = (req: IncomingMessage) => /^application\/json\b/i.test(req.headers['content-type'] ?? '');

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

const methodNotAllowed = (allow: string) =>
  new SandboxError(405, 'method_not_allowed', `use ${allow}`, { allow });

export function createSandboxHandler(
  provider: SandboxProvider,
  opts: { apiKey: string; onWarning?: (message: string) => void },
): (req: IncomingMessage, res: ServerResponse) => void {
  if (!opts.apiKey) throw new Error('apiKey must not be empty');
  const keyHash = sha256(opts.apiKey);

  const authorized = (req: IncomingMessage) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return !!m && timingSafeEqual(sha256(m[1]!), keyHash);
  };

  /** `/v1/*`: a result to send (maybe held back by `delayResponses`), or a thrown SandboxError. */
  async function api(req: IncomingMessage, path: string): Promise<ApiResult & { replayed?: boolean }> {
    const method = req.method ?? 'GET';
    if (path === '/v1/payments') {
      if (method !== 'POST') throw methodNotAllowed('POST');
      const key = parseIdempotencyKey(req.headers['idempotency-key']);
      const body = await readJson(req);
      return provider.idempotent('POST /v1/payments', key, body, () => ({
        status: 201,
        body: provider.createPayment(parseCreatePayment(body)),
      }));
    }
    const m = /^\/v1\/payments\/([^/]+)(?:\/(cancel|refunds))?$/.exec(path);
    const id = m?.[1];
    if (!m || !id || !PAYMENT_ID.test(id)) throw new SandboxError(404, 'not_found', `no route ${path}`);
    switch (m[2]) {
      case undefined:
        if (method !== 'GET') throw methodNotAllowed('GET');
        return { status: 200, body: provider.view(id) };
      case 'cancel':
        if (method !== 'POST') throw methodNotAllowed('POST');
        await readBody(req);
        return { status: 200, body: provider.cancel(id) };
      default: {
        if (method !== 'POST') throw methodNotAllowed('POST');
        const key = parseIdempotencyKey(req.headers['idempotency-key']);
        const body = await readJson(req);
        if (provider.takeRefundFailure()) {
          throw new SandboxError(500, 'simulated_failure', 'refund failed (failRefunds control)');
        }
        provider.get(id); // an unknown payment is a 404, and not stored under the key
        return provider.idempotent(`POST /v1/payments/${id}/refunds`, key, body, () => ({
          status: 201,
          body: provider.refund(id, body),
        }));
      }
    }
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    provider.stats.apiRequests++;
    if (provider.controls.down) {
      throw new SandboxError(503, 'unavailable', 'the provider is down', { 'retry-after': '1' });
    }
    if (!authorized(req)) {
      throw new SandboxError(401, 'unauthorized', 'a valid Bearer API key is required', {
        'www-authenticate': 'Bearer',
      });
    }
    let result: ApiResult & { replayed?: boolean };
    let headers: Record<string, string> = {};
    try {
      result = await api(req, path);
      if (result.replayed) headers = { 'idempotent-replayed': 'true' };
    } catch (e) {
      if (!(e instanceof SandboxError) || e.status >= 500) throw e;
      result = { status: e.status, body: e.body() };
      headers = e.headers;
    }
    // The call has had its effect; only the answer is late (a lost response, seen from the caller).
    const delay = provider.takeResponseDelay();
    if (delay > 0) await sleep(delay);
    sendJson(res, result.status, result.body, headers);
  }

  async function handlePage(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const json = isJson(req);
    const fail = (status: number, message: string, code: string, headers: Record<string, string> = {}) =>
      json
        ? sendJson(res, status, { error: { code, message } }, headers)
        : sendHtml(res, status, errorPage(status, message), headers);
    if (provider.controls.down)
      return fail(503, 'The payment provider is unavailable. Try again later.', 'unavailable');
    const p = PAYMENT_ID.test(id) ? provider.find(id) : undefined;
    if (!p) return fail(404, 'No such payment.', 'not_found');
    if (req.method === 'GET' || req.method === 'HEAD') return sendHtml(res, 200, paymentPage(p));
    if (req.method !== 'POST')
      return fail(405, 'Use GET or POST.', 'method_not_allowed', { allow: 'GET, POST' });

    const raw = (await readBody(req)).toString('utf8');
    let action: unknown;
    if (json) {
      try {
        action = (JSON.parse(raw) as { action?: unknown } | null)?.action;
      } catch {
        action = undefined;
      }
    } else {
      action = new URLSearchParams(raw).get('action');
    }
    if (action !== 'pay' && action !== 'decline')
      return fail(400, 'action must be pay or decline.', 'invalid_request');
    provider.settle(p.id, action);
    const location = returnLocation(p);
    if (location) {
      res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0 });
      res.end();
      return;
    }
    sendHtml(res, 200, resultPage(p));
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST') {
      provider.setControls(parseControls(await readJson(req)));
    } else if (req.method !== 'GET') {
      throw methodNotAllowed('GET, POST');
    }
    sendJson(res, 200, provider.controlsView());
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://sandbox').pathname;
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok', down: provider.controls.down });
    if (path === '/control') return handleControl(req, res);
    if (path.startsWith('/v1/')) return handleApi(req, res, path);
    const page = /^\/pay\/([^/]+)$/.exec(path);
    if (page) return handlePage(req, res, page[1]!);
    sendJson(res, 404, { error: { code: 'not_found', message: `no route ${path}` } });
  }

  return (req, res) => {
    route(req, res).catch((e: unknown) => {
      if (e instanceof SandboxError) {
        // A body too large is not read to its end: the connection is not reused.
        const close: Record<string, string> = e.status === 413 ? { connection: 'close' } : {};
        return sendJson(res, e.status, e.body(), { ...e.headers, ...close });
      }
      opts.onWarning?.(`sandbox request ${req.method} ${req.url} failed: ${String(e)}`);
      sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
    });
  };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the provider and its HTTP server in this process. */
export async function startSandbox(opts: SandboxOptions): Promise<RunningSandbox> {
  const provider = new SandboxProvider({
    webhookSecret: opts.webhookSecret,
    defaultCallbackUrl: opts.defaultCallbackUrl,
    delivery: opts.delivery,
    now: opts.now,
    onWarning: opts.onWarning,
  });
  const server = createServer(
    createSandboxHandler(provider, { apiKey: opts.apiKey, onWarning: opts.onWarning }),
  );
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = (opts.publicUrl ?? `http://${urlHost(host)}:${port}`).replace(/\/+$/, '');
  provider.publicUrl = url;

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    provider,
    server,
    close() {
      closed ??= new Promise<void>((resolve) => {
        provider.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
