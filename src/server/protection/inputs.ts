import { GraphQLError, visit, type DocumentNode } from 'graphql';

/**
 * Inputs refused before anything runs (HTTP 400 BAD_USER_INPUT), over HTTP and graphql-ws alike:
 *
 * - Text with C0 control characters other than tab, line feed and carriage return, or DEL.
 *   PostgreSQL refuses NUL in text (it was a 500, and a logged INSERT with a password hash); the
 *   others have no place in names, addresses or descriptions and are a classic way to forge log
 *   lines or confuse terminals.
 * - A list longer than the longest any argument accepts (cart lines, product variants: see
 *   `maxList`). Checked here, 5,000 copies of a cart line cost microseconds; checked by
 *   class-validator element by element, they cost seconds of CPU.
 */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

type Problem = { where: string; what: 'control' | 'list'; size?: number };

function inValue(value: unknown, path: string, maxList: number, depth = 0): Problem | null {
  if (typeof value === 'string') return CONTROL.test(value) ? { where: path, what: 'control' } : null;
  if (depth > 32 || value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    if (value.length > maxList) return { where: path, what: 'list', size: value.length };
    for (let i = 0; i < value.length; i++) {
      const hit = inValue(value[i], `${path}[${i}]`, maxList, depth + 1);
      if (hit) return hit;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    const hit = inValue(v, `${path}.${k}`, maxList, depth + 1);
    if (hit) return hit;
  }
  return null;
}

/** The problem of a document's own text (literals), found once per parsed document and limit. */
const literalProblems = new WeakMap<DocumentNode, Map<number, Problem | null>>();

function find(document: DocumentNode, variables: unknown, maxList: number): Problem | null {
  if (variables && typeof variables === 'object') {
    for (const [k, v] of Object.entries(variables)) {
      const hit = inValue(v, `$${k}`, maxList);
      if (hit) return hit;
    }
  }
  let byLimit = literalProblems.get(document);
  if (!byLimit) literalProblems.set(document, (byLimit = new Map()));
  let problem = byLimit.get(maxList);
  if (problem === undefined) byLimit.set(maxList, (problem = inLiterals(document, maxList)));
  return problem;
}

function inLiterals(document: DocumentNode, maxList: number): Problem | null {
  let found: Problem | null = null;
  visit(document, {
    StringValue(node) {
      if (!found && CONTROL.test(node.value)) found = { where: 'a string literal', what: 'control' };
    },
    ListValue(node) {
      if (!found && node.values.length > maxList) {
        found = { where: 'a list literal', what: 'list', size: node.values.length };
      }
    },
  });
  return found;
}

export function inputError(document: DocumentNode, variables: unknown, maxList: number): GraphQLError | null {
  const p = find(document, variables, maxList);
  if (!p) return null;
  const message =
    p.what === 'control'
      ? `Text inputs must not contain control characters (${p.where})`
      : `A list input may hold at most ${maxList} entries (${p.where} has ${p.size})`;
  return new GraphQLError(message, {
    extensions: { code: 'BAD_USER_INPUT', field: p.where, http: { status: 400 } },
  });
}
