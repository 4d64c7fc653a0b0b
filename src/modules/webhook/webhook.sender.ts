import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveTarget, type Resolve, type Target } from './webhook.url';

/** What one attempt came to. */
export type AttemptOutcome =
  { ok: true; statusCode: number } | { ok: false; statusCode: number | null; error: string };

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: Infinity }),
  https: new https.Agent({ keepAlive: true, maxSockets: Infinity }),
};

/** Connects to the address that was checked, whatever the name resolves to by now (DNS rebinding). */
function pinnedLookup(target: Target): LookupFunction {
  return ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  }) as unknown as LookupFunction;
}

/** The receiver's answer body is read (so the connection can be reused) but never kept beyond this. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface SendOptions {
  timeoutMs: number;
  publicOnly: boolean;
  resolve: Resolve;
  /** Aborts the attempt (shutdown). */
  signal?: AbortSignal;
}

/**
 * POSTs one signed webhook. The host is resolved and checked first (in production: public
 * addresses only) and the connection goes to that address, with the URL's host name kept for
 * the Host header, SNI and certificate checks. Redirects are not followed (a 3xx is a failure).
 */
export async function postWebhook(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  o: SendOptions,
): Promise<AttemptOutcome> {
  const url = new URL(rawUrl);
  let target: Target;
  try {
    target = await resolveTarget(url, o.publicOnly, o.resolve);
  } catch (err) {
    return { ok: false, statusCode: null, error: `refused: ${(err as Error).message}` };
  }
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    const done = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const req = lib.request(url, {
      method: 'POST',
      agent: url.protocol === 'https:' ? agents.https : agents.http,
      lookup: pinnedLookup(target),
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'commerce-webhooks/1',
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, statusCode: null, error: `timeout after ${o.timeoutMs} ms` });
    }, o.timeoutMs);
    const onAbort = () => {
      req.destroy();
      done({ ok: false, statusCode: null, error: 'aborted (shutdown)' });
    };
    o.signal?.addEventListener('abort', onAbort);
    req.on('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, statusCode: null, error: `${err.code ?? 'error'}: ${err.message}`.slice(0, 500) }),
    );
    req.on('response', (res) => {
      const code = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) res.destroy();
      });
      const finish = () =>
        done(
          code >= 200 && code < 300
            ? { ok: true, statusCode: code }
            : { ok: false, statusCode: code, error: `HTTP ${code}` },
        );
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    req.end(body);
  });
}
