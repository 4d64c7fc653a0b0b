import {
  Kind,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import type { DocumentCheck } from './partner.service';

/**
 * The check a document must pass to be registered: it parses, validates against the schema with
 * the server's own limit rules (a document that would be refused at run time is refused now), and
 * holds at least one operation. Also used for the trusted-documents manifest at start.
 */
export function documentCheck(schema: GraphQLSchema, rules: readonly ValidationRule[] = []): DocumentCheck {
  return (body) => {
    let document: DocumentNode;
    try {
      document = parse(body);
    } catch (e) {
      return { error: `does not parse: ${(e as Error).message}` };
    }
    const errors = validate(schema, document, [...specifiedRules, ...rules]);
    if (errors.length) return { error: `does not validate: ${errors.map((e) => e.message).join('; ')}` };
    const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    if (operations.length === 0) return { error: 'holds no operation' };
    return { operationName: operations.length === 1 ? (operations[0].name?.value ?? null) : null };
  };
}
