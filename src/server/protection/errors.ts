import { GraphQLError } from 'graphql';
import { HeaderMap } from '@apollo/server';
import { rateLimitHeaders, type Verdict } from './rate-limits';

/** The operation costs more than the budget: HTTP 400, nothing ran. */
export const queryTooCostly = (requested: number, limit: number) =>
  new GraphQLError(`Query cost ${requested} exceeds the limit of ${limit}`, {
    extensions: { code: 'QUERY_TOO_COSTLY', cost: { requested, limit }, http: { status: 400 } },
  });

/** Over a rate limit: HTTP 429 with Retry-After and the RateLimit-* headers. */
export const rateLimited = (verdict: Verdict, message = 'Too many requests; retry later') =>
  new GraphQLError(message, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfterSeconds: Math.max(1, Math.ceil(verdict.resetMs / 1000)),
      http: { status: 429, headers: new HeaderMap(rateLimitHeaders(verdict)) },
    },
  });

/** Refused for `retryAfterMs` (sign-in lockout, a full hashing queue). */
export const retryLater = (message: string, retryAfterMs: number) =>
  rateLimited({ allowed: false, limit: 0, remaining: 0, resetMs: retryAfterMs }, message);

/** The operation ran past GRAPHQL_EXECUTION_TIMEOUT_MS: what is left is not resolved. */
export const deadlineExceeded = (ms: number) =>
  new GraphQLError(`The operation ran past its execution deadline of ${ms} ms`, {
    extensions: { code: 'QUERY_TOO_COSTLY' },
  });
