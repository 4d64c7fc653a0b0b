import type { FastifyCorsOptions } from '@fastify/cors';
import type { EdgeConfig } from '../config';

/** Response headers a browser script may read (request id for support, limits, caching). */
const EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'ratelimit-policy',
  'etag',
];

/**
 * CORS for the storefronts listed in CORS_ORIGINS: exact origins only (no patterns, so a look-alike
 * domain never matches), or any origin with `*` outside production. Credentials travel in the
 * Authorization header, never in cookies, so Allow-Credentials is not sent. A listed origin's
 * preflight is answered 204; an unlisted origin gets no Access-Control-Allow-Origin and the browser
 * blocks the call.
 */
export function corsOptions(
  origins: EdgeConfig['corsOrigins'],
  allowedHeaders: string[],
): FastifyCorsOptions {
  const allowed = origins === '*' ? null : new Set(origins);
  return {
    origin: allowed === null ? '*' : (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    // Browsers cache the preflight this long (Chrome caps it at 2 h).
    maxAge: 600,
    optionsSuccessStatus: 204,
    // A bare OPTIONS (no Origin) is not a preflight: answer it as the route would, not 400.
    strictPreflight: false,
  };
}
