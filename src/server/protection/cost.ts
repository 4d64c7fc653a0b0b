import {
  getNamedType,
  visit,
  getNullableType,
  isCompositeType,
  isListType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

/**
 * The cost of an operation is the number of rows (entities) it can make the server resolve at most,
 * computed with its variables applied:
 *
 * - an object that is a row of its own (Product, Variant, Order, LedgerEntry, ...) costs 1;
 * - value objects that come with their parent's row (Money, Attribute, PageInfo, edges, ...) and
 *   scalars cost 0;
 * - a list multiplies what one element costs by its page size: `first` (clamped as the resolvers
 *   clamp it), or, for lists without arguments, the bound the data can really reach (a product has
 *   at most 100 variants, a cart or an order at most CART_MAX_LINES lines);
 * - nested lists multiply;
 * - aggregates that scan more than a page (totalCount, facets) add a fixed amount.
 *
 * See docs/security.md for the budget and the pages it was measured against.
 */
export interface CostModel {
  /** Largest `first` the connections accept (MAX_PAGE_SIZE). */
  maxPageSize: number;
  /** Lines of a cart, and so of an order (CART_MAX_LINES). */
  maxLines: number;
}

/** Types whose objects come with their parent's row and cost nothing of their own. */
const VALUE_TYPES = new Set([
  'Money',
  'Attribute',
  'PriceRange',
  'PageInfo',
  'Address',
  'Facet',
  'FacetValue',
  'AfterSaleLine',
  'Image',
  'Seo',
  'InventoryLevel',
  'ProductSnapshot',
]);
const isValueType = (name: string) =>
  VALUE_TYPES.has(name) || name.endsWith('Edge') || name.endsWith('Error') || name === 'ErrorResult';

/** Fixed extra cost of fields that aggregate over more than the page they sit on. */
const AGGREGATES: Record<string, number> = {
  'ProductConnection.totalCount': 20,
  'ProductConnection.facets': 50,
  'OrderConnection.totalCount': 20,
};

/** Lists without a page argument, at the bound their data can reach. */
function listBounds(model: CostModel): Record<string, number> {
  return {
    // ProductCreateInput accepts at most 100 variants.
    'Product.variants': 100,
    // The resolver clamps `first` to 20.
    'Product.alsoBought': 20,
    'Cart.lines': model.maxLines,
    'Order.lines': model.maxLines,
    // A checkout splits into at most one order per line.
    'Checkout.orders': model.maxLines,
    // Not capped by validation; generous estimates, the execution deadline covers the rest.
    'Order.shipments': 20,
    'Order.afterSales': 20,
    'Order.history': 100,
    'Shipment.events': 50,
  };
}
const DEFAULT_LIST_BOUND = 100;

const clamp = (n: unknown, max: number, fallback: number) =>
  typeof n === 'number' && Number.isFinite(n) ? Math.min(Math.max(Math.trunc(n), 0), max) : fallback;

/** Fixed costs of the aggregates selected directly under a connection (they are not per element). */
function directAggregates(typeName: string, node: FieldNode): number {
  let sum = 0;
  for (const s of node.selectionSet?.selections ?? []) {
    if (s.kind === Kind.FIELD) sum += AGGREGATES[`${typeName}.${s.name.value}`] ?? 0;
  }
  return sum;
}

export function costEstimator(model: CostModel): ComplexityEstimator {
  const bounds = listBounds(model);
  return ({ type, field, node, args, childComplexity }) => {
    if (field.name.startsWith('__')) return 0; // introspection (off in production)
    const named = getNamedType(field.type);
    const key = `${type.name}.${field.name}`;
    const own = (isCompositeType(named) && !isValueType(named.name) ? 1 : 0) + (AGGREGATES[key] ?? 0);
    const list = isListType(getNullableType(field.type));

    // A connection: its edges repeat `first` times; totalCount and pageInfo do not.
    if (named.name.endsWith('Connection') && 'first' in args) {
      const size = clamp(args.first, model.maxPageSize, 20);
      const fixed = directAggregates(named.name, node);
      return own + fixed + size * Math.max(0, childComplexity - fixed);
    }
    if (list && isCompositeType(named)) {
      // A connection's edges were counted by the connection.
      if (type.name.endsWith('Connection')) return own + childComplexity;
      const bound = bounds[key] ?? DEFAULT_LIST_BOUND;
      const size = 'first' in args ? clamp(args.first, bound, bound) : bound;
      return size * (own + childComplexity);
    }
    return own + childComplexity;
  };
}

/**
 * The cost of the operation that will run, with its variables. Throws a GraphQLError when the
 * variables do not fit the operation (the executor would refuse them anyway).
 */
export function operationCost(
  schema: GraphQLSchema,
  estimator: ComplexityEstimator,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined | null,
  operationName?: string | null,
): number {
  return getComplexity({
    schema,
    query: document,
    variables: variables ?? {},
    operationName: operationName ?? undefined,
    estimators: [estimator],
  });
}

/** Per document: the variables its cost can depend on, and the costs already worked out. */
interface DocumentCosts {
  /** Variables used as a `first` argument or in a directive (@include/@skip): all the estimator reads. */
  relevant: string[];
  /** Cost by operation name and the relevant variables' values. */
  byKey: Map<string, number>;
}

/** Distinct (operation, relevant variables) costs kept per document; more are computed each time. */
const KEYS_PER_DOCUMENT = 64;

/**
 * `operationCost`, remembered per parsed document (Apollo and graphql-ws reuse the parsed
 * document of a query they saw before) and per value of the variables the cost can depend on.
 * The estimator reads only `first` and the fields selected, and `@include`/`@skip` decide the
 * fields selected, so two requests of one document that agree on those variables cost the same.
 * Costs that failed to compute (variables that do not fit) are never remembered.
 */
export class CostCache {
  private readonly documents = new WeakMap<DocumentNode, DocumentCosts>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly estimator: ComplexityEstimator,
  ) {}

  cost(
    document: DocumentNode,
    variables: Record<string, unknown> | undefined | null,
    operationName?: string | null,
  ): number {
    let entry = this.documents.get(document);
    if (!entry)
      this.documents.set(document, (entry = { relevant: relevantVariables(document), byKey: new Map() }));
    const key = JSON.stringify([operationName ?? null, ...entry.relevant.map((v) => variables?.[v] ?? null)]);
    const known = entry.byKey.get(key);
    if (known !== undefined) return known;
    const cost = operationCost(this.schema, this.estimator, document, variables, operationName);
    if (entry.byKey.size < KEYS_PER_DOCUMENT) entry.byKey.set(key, cost);
    return cost;
  }
}

/** The variables a document passes to `first` arguments or to directives. */
function relevantVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  const collect = (node: { kind: Kind }) =>
    visit(node as DocumentNode, {
      Variable(v) {
        names.add(v.name.value);
      },
    });
  visit(document, {
    Argument(arg) {
      if (arg.name.value === 'first') collect(arg.value);
    },
    Directive(d) {
      for (const arg of d.arguments ?? []) collect(arg.value);
    },
  });
  return [...names].sort();
}
