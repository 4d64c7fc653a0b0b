import { randomUUID } from 'node:crypto';
import proxyAddr from '@fastify/proxy-addr';
import type { IncomingMessage } from 'node:http';

/** Ids a caller may choose: short, printable, nothing that could forge a log line or a header. */
const SANE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** W3C trace context: version-traceid-parentid-flags; an all-zero trace id is invalid. */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The request id (Fastify's genReqId): the caller's `x-request-id` when it is sane, so a support
 * ticket and the logs of the services in front of us name the same request; a new UUID otherwise.
 */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  const id = Array.isArray(given) ? given[0] : given;
  return id && SANE_ID.test(id) ? id : randomUUID();
}

/** The trace id of a valid `traceparent` header, to bind into the request's log lines. */
export function traceId(req: IncomingMessage): string | undefined {
  const header = req.headers.traceparent;
  const m = typeof header === 'string' ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  return m && !/^0+$/.test(m[1]) ? m[1] : undefined;
}

/**
 * The client's address: the peer, or with trusted proxies (TRUST_PROXY) the first address in
 * X-Forwarded-For that is not one of them. The same rule for HTTP (Fastify's trustProxy) and for
 * WebSocket upgrades, so both see the same client.
 */
export function clientAddressOf(trusted: string[]) {
  const trust = trusted.length ? proxyAddr.compile(trusted) : () => false;
  return {
    trust,
    of: (req: IncomingMessage): string =>
      trusted.length ? proxyAddr(req, trust) : (req.socket.remoteAddress ?? 'unknown'),
  };
}
