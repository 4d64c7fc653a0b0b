import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { unavailableReason } from '../db/pg-errors';
import { SERVICE_UNAVAILABLE } from './errors';

/**
 * HTTP status for outages (issue 9): an operation that failed with SERVICE_UNAVAILABLE (see
 * formatError) is answered 503 with `Retry-After`, so clients, proxies and load balancers can tell
 * "retry shortly, it is safe" from a defect (500) or bad input (400). Applies to single results;
 * an incremental (@defer) response has sent its status before the error is known. Over graphql-ws
 * the error carries the same extensions (code, retryable).
 */
export function serviceUnavailablePlugin(retryAfterSeconds: number): ApolloServerPlugin<any> {
  const retryAfter = String(retryAfterSeconds);
  return {
    // The context factory may reach the database too (sessions, API keys): same answer.
    async contextCreationDidFail({ error }) {
      if (!unavailableReason(error)) return;
      const e = error as Error & { extensions?: Record<string, unknown> };
      e.extensions = {
        ...e.extensions,
        code: SERVICE_UNAVAILABLE,
        http: { status: 503, headers: new HeaderMap([['retry-after', retryAfter]]) },
      };
    },
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const errors = response.body.singleResult.errors;
          if (!errors?.some((e) => e.extensions?.code === SERVICE_UNAVAILABLE)) return;
          response.http.status = 503;
          response.http.headers.set('retry-after', retryAfter);
        },
      };
    },
  };
}
