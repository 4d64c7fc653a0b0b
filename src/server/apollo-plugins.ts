import type { ApolloServerPlugin } from '@apollo/server';
import type { Config } from '../config';
import type { SqlCounter } from '../db/sql-stats';
import { isErrorResult } from '../shared/error-result';
import type { Context } from './context';
import { fieldHooksOf, installFieldHooks } from './field-hooks';
import type { Metrics } from './metrics';
import type { OperationLabels } from './operation-labels';

/** What the HTTP edge learns about the GraphQL operation of a request (for its access-log line). */
export interface OperationNote {
  operationName?: string;
  outcome?: Outcome;
}

export type Outcome = 'ok' | 'error' | 'business_error';

/** The context of an HTTP GraphQL request: the resolvers' context plus what the edge measures. */
export type RequestContext = Context & { sql: SqlCounter; note: OperationNote };

/**
 * Counts operations by (bounded) name and outcome, reports SQL statements per operation (tests and
 * benchmarks read `extensions.sqlStatements`), and notes the operation for the access log.
 * A top-level field that answers an `ErrorResult` (OUT_OF_STOCK, INVALID_CREDENTIALS, ...) is a
 * business failure: counted as `business_error`, neither `ok` nor `error`, so an alert on errors
 * does not fire when shoppers mistype a password, and a spike of declines is still visible.
 */
export function operationMetricsPlugin(
  config: Config,
  metrics: Metrics,
  labels: OperationLabels,
): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart({ schema, contextValue }) {
      let business = false;
      // Root fields are watched by the schema's field hooks, not by a per-field plugin hook.
      installFieldHooks(schema);
      if (contextValue)
        fieldHooksOf(contextValue).onRootValue = (value) => {
          if (isErrorResult(value)) business = true;
        };
      return {
        async willSendResponse({ contextValue, response, operationName, errors }) {
          const outcome: Outcome = errors?.length ? 'error' : business ? 'business_error' : 'ok';
          // Apollo answers some failures (bad JSON, CSRF) before the context exists.
          if (!contextValue?.sql) return;
          contextValue.note.operationName = operationName ?? undefined;
          contextValue.note.outcome = outcome;
          metrics.sqlStatements.observe(contextValue.sql.statements);
          metrics.requests.inc({ operation: labels.label(operationName), outcome });
          if (config.exposeSqlStats && response.body.kind === 'single') {
            response.body.singleResult.extensions = {
              ...response.body.singleResult.extensions,
              sqlStatements: contextValue.sql.statements,
            };
          }
        },
      };
    },
  };
}
