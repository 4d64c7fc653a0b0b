import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { startTestApp, type TestApp } from '../support/app';
import { wsClient } from '../support/ws';

/**
 * The cost model counts what will run: page sizes from variables, real bounds of unpaginated lists,
 * nested lists multiplying. The contract's ordinary pages pass; the abusive page of the attack review
 * is refused before anything runs.
 */
let t: TestApp;
let customer: string;
let merchant: string;
const LIMIT = 25_000;

beforeAll(async () => {
  t = await startTestApp();
  const admin = await adminToken(t.gql);
  const m = await createMerchant(t.gql, admin);
  merchant = m.token;
  for (let i = 0; i < 3; i++) {
    await createProduct(t.gql, merchant, {
      variants: [
        { attributes: [{ name: 'size', value: 'S' }] },
        { attributes: [{ name: 'size', value: 'M' }] },
      ],
    });
  }
  customer = (await signUpCustomer(t.gql)).token;
});
afterAll(() => t?.stop());

/** The attack review's query: a page of products, each with variants and two levels of alsoBought. */
const ABUSIVE = `query($n: Int!) { products(first: $n) { edges { node { id title
  variants { id sku price { amount } }
  alsoBought(first: 20) { id variants { id price { amount } }
    alsoBought(first: 20) { id variants { id price { amount } } } } } } } }`;

const PRODUCTS_PAGE = `query($n: Int!) { products(first: $n) { edges { cursor node { id title description
  merchant { id name } category { id name } priceRange { min { amount currency } max { amount currency } }
  variants { id sku title availability price { amount currency } attributes { name value } } } }
  pageInfo { hasNextPage endCursor } } }`;
const WALLET_PAGE = `query($n: Int!) { viewer { account { balance { amount }
  entries(first: $n) { edges { cursor node { id kind amount { amount } balanceAfter { amount } reference createdAt } }
  pageInfo { hasNextPage endCursor } } } } }`;
const ORDERS_PAGE = `query($n: Int!) { orders(first: $n) { totalCount edges { node { id status createdAt
  total { amount } subtotal { amount } merchant { id name } payment { status }
  lines { id sku title quantity unitPrice { amount } lineTotal { amount } attributes { name value } } } }
  pageInfo { hasNextPage endCursor } } }`;

describe('ordinary pages of the contract pass with room to spare', () => {
  test.each([
    ['100 products with variants, prices and attributes', PRODUCTS_PAGE, undefined],
    ['100 ledger entries with balanceAfter', WALLET_PAGE, 'customer'],
    ['100 orders with their lines', ORDERS_PAGE, 'customer'],
  ])('%s', async (_what, query, who) => {
    const r = await t.gql(query, { n: 100 }, who ? customer : undefined);
    expect(r.status).toBe(200);
    expect(r.errors).toBeUndefined();
    const cost = (r.extensions as any).cost;
    expect(cost.limit).toBe(LIMIT);
    expect(cost.requested).toBeGreaterThan(0);
    // "With room": at most half the budget.
    expect(cost.requested).toBeLessThanOrEqual(LIMIT / 2);
  });

  test('the products page returns its data', async () => {
    const r = await t.gql(PRODUCTS_PAGE, { n: 100 });
    expect(r.data.products.edges).toHaveLength(3);
    expect(r.data.products.edges[0].node.variants).toHaveLength(2);
  });
});

describe('the abusive page', () => {
  test('with `first` as a variable it is refused with QUERY_TOO_COSTLY (400) in under 50 ms', async () => {
    let best = Infinity;
    // The first rounds warm the code paths up; the best of the rest is the figure.
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      const r = await t.gql(ABUSIVE, { n: 100 });
      best = Math.min(best, performance.now() - started);
      expect(r.status).toBe(400);
      expect(r.data).toBeUndefined();
      expect(r.errors).toHaveLength(1);
      expect(r.errors![0].extensions?.code).toBe('QUERY_TOO_COSTLY');
      expect(r.errors![0].extensions?.cost).toEqual({ requested: expect.any(Number), limit: LIMIT });
      expect((r.errors![0].extensions?.cost as any).requested).toBeGreaterThan(LIMIT * 10);
      expect(r.extensions?.sqlStatements).toBe(0);
      expect((r.extensions as any).cost.requested).toBeGreaterThan(LIMIT);
    }
    expect(best).toBeLessThan(50);
  });

  test('with a literal it is refused the same way, at the same cost', async () => {
    const byVariable = await t.gql(ABUSIVE, { n: 100 });
    const literal = await t.gql(ABUSIVE.replace('query($n: Int!)', 'query').replace('$n', '100'));
    expect(literal.status).toBe(400);
    expect(literal.errors![0].extensions?.code).toBe('QUERY_TOO_COSTLY');
    expect((literal.extensions as any).cost).toEqual((byVariable.extensions as any).cost);
  });

  test('the cost follows the page size asked for, and even one product with two levels of alsoBought is refused', async () => {
    const one = await t.gql(ABUSIVE, { n: 1 });
    expect(one.status).toBe(400); // 400 products × 100 variants at most
    const big = await t.gql(ABUSIVE, { n: 100 });
    expect((big.extensions as any).cost.requested).toBeGreaterThan(
      90 * (one.extensions as any).cost.requested,
    );
    const page = (n: number) => t.gql(PRODUCTS_PAGE, { n });
    const [p10, p100] = [await page(10), await page(100)];
    expect(p10.status).toBe(200);
    expect((p100.extensions as any).cost.requested).toBeGreaterThan(
      9 * (p10.extensions as any).cost.requested,
    );
  });

  test('nested unpaginated lists multiply: variants → product → variants', async () => {
    const q = `query($n: Int!) { products(first: $n) { edges { node { variants { product { variants { id } } } } } } }`;
    const r = await t.gql(q, { n: 100 });
    expect(r.status).toBe(400);
    expect(r.errors![0].extensions?.code).toBe('QUERY_TOO_COSTLY');
  });

  test('an abusive page hidden in fragments and with @include(if: $x) is counted too', async () => {
    const q = `query($n: Int!, $x: Boolean!) { products(first: $n) { edges { node { ...P } } } }
      fragment P on Product { alsoBought(first: 20) @include(if: $x) { alsoBought(first: 20) { variants { id } } } }`;
    const on = await t.gql(q, { n: 100, x: true });
    expect(on.status).toBe(400);
    expect(on.errors![0].extensions?.code).toBe('QUERY_TOO_COSTLY');
    const off = await t.gql(q, { n: 100, x: false });
    expect(off.status).toBe(200);
    expect(off.errors).toBeUndefined();
  });
});

describe('extensions.cost on every response', () => {
  test('a cheap query, a mutation and a validation failure all report it', async () => {
    const cheap = await t.gql(`{ categories { id } }`);
    expect((cheap.extensions as any).cost).toEqual({ requested: expect.any(Number), limit: LIMIT });
    const invalid = await t.gql(`{ nope }`);
    expect(invalid.status).toBe(400);
    expect((invalid.extensions as any).cost).toEqual({ requested: 0, limit: LIMIT });
    const m = await t.gql(`mutation { cartCreate { ... on Cart { id } } }`, {}, undefined);
    expect(m.errors).toBeUndefined();
    expect((m.extensions as any).cost.limit).toBe(LIMIT);
  });
});

describe('over WebSocket', () => {
  test('the same cost rule applies to an operation sent over graphql-ws, with its variables', async () => {
    const client = wsClient(t.url, customer);
    try {
      const run = (n: number) =>
        new Promise<{ data?: any; errors?: any[] }>((resolve) => {
          const out: { data?: any; errors?: any[] } = {};
          client.subscribe(
            { query: ABUSIVE, variables: { n } },
            {
              next: (v) => Object.assign(out, v),
              error: (e) => resolve({ errors: Array.isArray(e) ? e : [e] }),
              complete: () => resolve(out),
            },
          );
        });
      const refused = await run(100);
      expect(refused.data).toBeUndefined();
      expect(refused.errors![0].extensions?.code).toBe('QUERY_TOO_COSTLY');
      const ok = await new Promise<{ data?: any; errors?: any[] }>((resolve) => {
        const out: { data?: any; errors?: any[] } = {};
        client.subscribe(
          { query: PRODUCTS_PAGE, variables: { n: 100 } },
          {
            next: (v) => Object.assign(out, v),
            error: (e) => resolve({ errors: [e] }),
            complete: () => resolve(out),
          },
        );
      });
      expect(ok.errors).toBeUndefined();
      expect(ok.data.products.edges).toHaveLength(3);
    } finally {
      await client.dispose();
    }
  });
});

describe('execution deadline', () => {
  let quick: TestApp;
  beforeAll(async () => {
    quick = await startTestApp({ GRAPHQL_EXECUTION_TIMEOUT_MS: '1' });
  });
  afterAll(() => quick?.stop());

  test('fields still unresolved at the deadline are not resolved; the operation ends with an error', async () => {
    // The search is a database round trip: its edges are resolved past the 1 ms deadline.
    const r = await quick.gql(`{ products(first: 10) { edges { node { id variants { id } } } } }`);
    expect(r.data).toBeNull(); // products is non-null: the error reaches the root
    expect(r.status).toBe(200);
    expect(r.errors?.[0].extensions?.code).toBe('QUERY_TOO_COSTLY');
    expect(r.errors?.[0].message).toMatch(/execution deadline of 1 ms/);
  });
});
