import { buildSchema, execute, parse, type GraphQLSchema } from 'graphql';
import { CostCache, costEstimator, operationCost } from '../../src/server/protection/cost';
import { fieldHooksOf, installFieldHooks } from '../../src/server/field-hooks';

/** The per-request work the HTTP pipeline remembers or moves out of Apollo's hooks (docs/performance.md). */

const sdl = `
  type Money { amount: String! }
  type Product { id: ID! title: String! price: Money! related(first: Int): [Product!]! }
  type ProductEdge { node: Product! }
  type ProductConnection { edges: [ProductEdge!]! totalCount: Int! }
  type Query { products(first: Int, q: String): ProductConnection! slow: String ok: String }
`;

describe('costs remembered per document', () => {
  const schema = buildSchema(sdl);
  const estimator = costEstimator({ maxPageSize: 100, maxLines: 50 });
  const doc = parse(`query Q($n: Int, $q: String, $withRelated: Boolean!) {
    products(first: $n, q: $q) { totalCount edges { node { id related(first: 3) @include(if: $withRelated) { id } } } }
  }`);

  test.each([
    [{ n: 10, q: 'a', withRelated: false }],
    [{ n: 20, q: 'a', withRelated: false }],
    [{ n: 20, q: 'b', withRelated: true }],
    [{ n: 500, q: 'b', withRelated: true }],
  ])('the same cost as computing it afresh, for %j, asked twice', (variables) => {
    const costs = new CostCache(schema, estimator);
    const fresh = operationCost(schema, estimator, doc, variables, 'Q');
    expect(costs.cost(doc, variables, 'Q')).toBe(fresh);
    expect(costs.cost(doc, variables, 'Q')).toBe(fresh);
  });

  test('the page size and @include change the cost; the search text does not', () => {
    const costs = new CostCache(schema, estimator);
    const small = costs.cost(doc, { n: 5, q: 'a', withRelated: false }, 'Q');
    const large = costs.cost(doc, { n: 50, q: 'a', withRelated: false }, 'Q');
    const related = costs.cost(doc, { n: 50, q: 'a', withRelated: true }, 'Q');
    expect(large).toBeGreaterThan(small);
    expect(related).toBeGreaterThan(large);
    expect(costs.cost(doc, { n: 50, q: 'other words', withRelated: true }, 'Q')).toBe(related);
  });

  test('variables that do not fit are not remembered: they fail every time', () => {
    const costs = new CostCache(schema, estimator);
    expect(() => costs.cost(doc, { n: 'ten', q: 'a', withRelated: false }, 'Q')).toThrow();
    expect(() => costs.cost(doc, { n: 'ten', q: 'a', withRelated: false }, 'Q')).toThrow();
  });
});

describe('field hooks instead of per-field plugin hooks', () => {
  let schema: GraphQLSchema;
  let clock = 0;
  beforeAll(() => {
    schema = buildSchema(sdl);
    const q = schema.getQueryType()!.getFields();
    q.slow.resolve = () => {
      clock += 10; // each resolver "takes" 10 ms
      return 'slow';
    };
    q.ok.resolve = async () => ({ business: true });
    installFieldHooks(schema);
    installFieldHooks(schema); // twice is once
  });
  const now = jest.spyOn(Date, 'now').mockImplementation(() => clock);
  afterAll(() => now.mockRestore());

  test('a field that starts after the deadline fails with the deadline error; earlier ones ran', async () => {
    clock = 0;
    const context = {};
    const hooks = fieldHooksOf(context);
    hooks.deadline = 15;
    hooks.deadlineError = () => new Error('deadline exceeded');
    const r = await execute({
      schema,
      document: parse('{ a: slow b: slow c: slow }'),
      contextValue: context,
    });
    expect(r.data).toEqual({ a: 'slow', b: 'slow', c: null });
    expect(r.errors?.map((e) => e.message)).toEqual(['deadline exceeded']);
  });

  test('root values reach onRootValue once resolved, nested ones do not', async () => {
    const seen: unknown[] = [];
    const context = {};
    fieldHooksOf(context).onRootValue = (v) => seen.push(v);
    await execute({ schema, document: parse('{ ok slow }'), contextValue: context });
    expect(seen).toEqual(expect.arrayContaining(['slow', { business: true }]));
    expect(seen).toHaveLength(2);
  });

  test('a context without hooks runs the resolvers untouched', async () => {
    clock = 1e9;
    const r = await execute({ schema, document: parse('{ slow }'), contextValue: {} });
    expect(r).toEqual({ data: { slow: 'slow' } });
  });
});
