import { GraphQLError } from 'graphql';

/**
 * Validation messages without their "Did you mean ...?" part: in production they would reveal field
 * and type names while introspection is off. The same rewrite Apollo's
 * hideSchemaDetailsFromClientErrors applies over HTTP, for the graphql-ws path (issue 12).
 */
export function withoutSuggestions(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((e) => {
    const message = e.message.replace(/ ?Did you mean(.+?)\?$/, '');
    return message === e.message
      ? e
      : new GraphQLError(message, {
          nodes: e.nodes,
          source: e.source,
          positions: e.positions,
          extensions: e.extensions,
        });
  });
}
