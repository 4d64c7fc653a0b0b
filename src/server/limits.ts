import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { GraphQLError, ValidationContext, ValidationRule } from 'graphql';
import type { Config } from '../config';

/**
 * Depth and alias limits as validation rules, so the same rules guard HTTP (Apollo) and WebSocket
 * (graphql-ws) operations. Cost needs the variables: see protection/ (an Apollo plugin, and the
 * graphql-ws subscribe check).
 */
export function limitRules(limits: Config['limits']): ValidationRule[] {
  // Report a rejection as a validation error (400 GRAPHQL_VALIDATION_FAILED); the rules' default,
  // throwing from inside validation, reaches clients as a 500 INTERNAL_SERVER_ERROR.
  const reject = {
    propagateOnRejection: false,
    onReject: [(ctx: ValidationContext | null, err: GraphQLError) => ctx?.reportError(err)],
  };
  return [
    maxDepthRule({ n: limits.maxDepth, ignoreIntrospection: true, exposeLimits: true, ...reject }),
    maxAliasesRule({ n: limits.maxAliases, exposeLimits: true, ...reject }),
  ] as unknown as ValidationRule[];
}
