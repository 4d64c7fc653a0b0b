import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ArgumentValidationError } from 'type-graphql';
import type { Logger } from 'pino';
import { requestLogStorage } from './request-log';
import { unavailableReason } from '../db/pg-errors';

const CLIENT_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'RATE_LIMITED',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_REQUIRED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'QUERY_TOO_COSTLY',
]);

/** extensions.code of an error that says "not now" rather than "never": retry the same request later. */
export const SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE';

/** The error an outage answers, inside an operation or before one runs (the HTTP edge). */
export function unavailableError(reason: string): GraphQLFormattedError {
  return {
    message:
      'The service is temporarily unavailable. Retry the same request (with the same idempotency key) shortly.',
    extensions: { code: SERVICE_UNAVAILABLE, retryable: true, reason },
  };
}

/**
 * Client errors pass through with their code; input validation becomes BAD_USER_INPUT with the
 * failing fields; an outage of the database (unreachable, frozen, shutting down, read-only, out of
 * resources, a lock, statement or pool timeout) becomes SERVICE_UNAVAILABLE with
 * `retryable: true` (serviceUnavailablePlugin turns it into HTTP 503 + Retry-After); everything
 * else is logged and reaches clients as INTERNAL_SERVER_ERROR with no internals.
 */
export function makeFormatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const outage = unavailableReason(original) ?? unavailableReason(error);
    if (outage || formatted.extensions?.code === SERVICE_UNAVAILABLE) {
      log.warn({ err: original, reason: outage }, 'database unavailable; the client may retry');
      return {
        ...unavailableError(outage ?? 'unavailable'),
        locations: formatted.locations,
        path: formatted.path,
      };
    }
    if (original instanceof ArgumentValidationError) {
      const fields = flatten(original.extensions.validationErrors as any[]);
      return {
        message: `Invalid input: ${fields.map((f) => f.message).join('; ')}`,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'BAD_USER_INPUT', fields },
      };
    }
    const code = formatted.extensions?.code as string | undefined;
    if (code && CLIENT_CODES.has(code)) {
      const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    (requestLogStorage.getStore() ?? log).error({ err: original }, 'unhandled error in GraphQL operation');
    return {
      message: 'Internal server error',
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

interface FieldError {
  field: string;
  message: string;
}

function flatten(errors: any[], prefix = ''): FieldError[] {
  return (errors ?? []).flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own: FieldError[] = Object.values(e.constraints ?? {}).map((m) => ({ field, message: String(m) }));
    return [...own, ...flatten(e.children, field)];
  });
}
