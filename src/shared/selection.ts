import type { GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/** Whether the current field's selection (through fragments) includes any of `names`. */
export function selects(info: GraphQLResolveInfo, ...names: string[]): boolean {
  const walk = (set: SelectionSetNode | undefined): boolean =>
    !!set?.selections.some((s) => {
      if (s.kind === 'Field') return names.includes(s.name.value);
      if (s.kind === 'InlineFragment') return walk(s.selectionSet);
      return walk(info.fragments[s.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((n) => walk(n.selectionSet));
}
