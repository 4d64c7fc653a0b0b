import { GraphQLError, Kind, type SelectionSetNode, type ValidationContext, type ASTVisitor } from 'graphql';

const GUARDED = new Set(['signIn', 'signUp', 'passwordChange', 'signUpConfirm']);

/**
 * One operation may hold at most one signIn, signUp or passwordChange (aliases would otherwise turn one request into
 * many password guesses). Counted through fragments and inline fragments of the mutation root.
 */
export function oneSignInPerOperation(context: ValidationContext): ASTVisitor {
  const fragments = new Map(
    context
      .getDocument()
      .definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d] as const),
  );
  const count = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
    let n = 0;
    for (const s of set?.selections ?? []) {
      if (s.kind === Kind.FIELD) n += GUARDED.has(s.name.value) ? 1 : 0;
      else if (s.kind === Kind.INLINE_FRAGMENT) n += count(s.selectionSet, seen);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        n += count(fragments.get(s.name.value)?.selectionSet, seen);
      }
    }
    return n;
  };
  return {
    OperationDefinition(op) {
      if (op.operation !== 'mutation') return;
      const n = count(op.selectionSet, new Set());
      if (n > 1) {
        context.reportError(
          new GraphQLError(`An operation may hold at most one signIn or signUp, found ${n}.`, {
            nodes: [op],
          }),
        );
      }
    },
  };
}
