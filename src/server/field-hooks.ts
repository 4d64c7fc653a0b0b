import {
  defaultFieldResolver,
  GraphQLObjectType,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';

/**
 * Per-field work of the HTTP pipeline without Apollo's per-field plugin hooks (docs/performance.md).
 *
 * A plugin's `willResolveField` makes Apollo call every plugin's hook for every field of every
 * answer (a search page resolves about 350 fields), building a callback per field and chaining
 * every result promise to it. The two things the pipeline does per field are cheap: the execution
 * deadline (a clock read) and noticing a root field that answered an `ErrorResult`. So the schema's
 * resolvers are wrapped once, and each wrapper reads the request's hooks from its context: nothing
 * is allocated per field, and a context without hooks (WebSocket events, tests calling the schema)
 * runs the resolver untouched.
 */

const HOOKS = Symbol('fieldHooks');
const INSTALLED = Symbol('fieldHooksInstalled');

export interface FieldHooks {
  /** Epoch ms after which no further field may start (EXECUTION_TIMEOUT_MS). */
  deadline?: number;
  /** The error thrown by a field that starts after the deadline. */
  deadlineError?: () => Error;
  /** Called with the value of each root field once it is resolved. */
  onRootValue?: (value: unknown) => void;
}

/** The hooks of a request's context, created on first use. */
export function fieldHooksOf(context: object): FieldHooks {
  const c = context as { [HOOKS]?: FieldHooks };
  if (!c[HOOKS]) Object.defineProperty(c, HOOKS, { value: {}, enumerable: false });
  return c[HOOKS]!;
}

const isPromise = (x: unknown): x is Promise<unknown> =>
  !!x && typeof (x as { then?: unknown }).then === 'function';

function wrap(resolve: GraphQLFieldResolver<unknown, unknown>): GraphQLFieldResolver<unknown, unknown> {
  return (source, args, context, info) => {
    const hooks = (context as { [HOOKS]?: FieldHooks } | undefined)?.[HOOKS];
    if (!hooks) return resolve(source, args, context, info);
    if (hooks.deadline !== undefined && Date.now() > hooks.deadline) throw hooks.deadlineError!();
    const value = resolve(source, args, context, info);
    const onRoot = hooks.onRootValue;
    if (onRoot && info.path.prev === undefined) {
      if (isPromise(value)) value.then(onRoot, () => undefined);
      else onRoot(value);
    }
    return value;
  };
}

/** Wraps every field resolver of `schema` once (later calls do nothing). */
export function installFieldHooks(schema: GraphQLSchema): void {
  const s = schema as GraphQLSchema & { [INSTALLED]?: true };
  if (s[INSTALLED]) return;
  Object.defineProperty(s, INSTALLED, { value: true });
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      field.resolve = wrap(field.resolve ?? defaultFieldResolver);
    }
  }
}
