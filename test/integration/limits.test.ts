import { adminToken } from '../factories/catalog';
import type { GqlResponse } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

let t: TestApp;
let admin: string;

beforeAll(async () => {
  t = await startTestApp();
  admin = await adminToken(t.gql);
});
afterAll(() => t?.stop());

const sql = async <T = any>(text: string, params: unknown[] = []): Promise<T[]> =>
  t.app.orm.em.fork().getConnection().execute(text, params);

/** Every error response seen in this file, checked together at the end as well. */
const errorResponses: { what: string; status: number; body: any }[] = [];

async function raw(what: string, init: RequestInit, path = '/graphql', base = t.url) {
  const res = await fetch(base.replace(/\/graphql$/, path), init);
  const text = await res.text();
  const body = res.headers.get('content-type')?.includes('application/json') ? JSON.parse(text) : text;
  if (body?.errors) errorResponses.push({ what, status: res.status, body });
  return { status: res.status, body, contentType: res.headers.get('content-type') };
}

function rejected(r: GqlResponse, what: string) {
  errorResponses.push({ what, status: r.status, body: r });
  return r;
}

/**
 * product { category { parent { parent ... { id } } } }: `levels` object fields above the `id` leaf.
 * Single objects all the way, so the cost stays small and only the depth is tested.
 */
function nested(levels: number): string {
  let inner = 'id';
  for (let i = levels; i >= 2; i--) inner = `${i === 2 ? 'category' : 'parent'} { ${inner} }`;
  return `query($id: ID!) { product(id: $id) { ${inner} } }`;
}

describe('query depth limit (GRAPHQL_MAX_DEPTH = 10)', () => {
  test('depth 10 runs; depth 11 is rejected with 400 before anything executes', async () => {
    const ok = await t.gql(nested(9), { id: '1' });
    expect(ok.status).toBe(200);
    expect(ok.errors).toBeUndefined();
    expect(ok.data).toEqual({ product: null });

    const deep = rejected(await t.gql(nested(10), { id: '1' }), 'depth 11');
    expect(deep.status).toBe(400);
    expect(deep.data).toBeUndefined();
    expect(deep.errors).toEqual([
      {
        message: 'Syntax Error: Query depth limit of 10 exceeded, found 11.',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
    expect(deep.extensions?.sqlStatements).toBe(0);

    const deeper = rejected(await t.gql(nested(30), { id: '1' }), 'depth 31');
    expect(deeper.status).toBe(400);
    expect(deeper.errors![0]).toEqual({
      message: 'Syntax Error: Query depth limit of 10 exceeded, found 31.',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });

  test('fragments do not hide depth', async () => {
    const q = `query($id: ID!) { product(id: $id) { ...P } }
      fragment P on Product { variants { product { variants { product { variants { ...V } } } } } }
      fragment V on Variant { product { variants { product { id } } } }`;
    const r = rejected(await t.gql(q, { id: '1' }), 'depth through fragments');
    expect(r.status).toBe(400);
    expect(r.data).toBeUndefined();
    expect(r.errors![0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(r.errors![0].message).toMatch(/^Syntax Error: Query depth limit of 10 exceeded, found \d+\.$/);
  });

  test('a too deep mutation is not executed: nothing is written', async () => {
    let sel = 'id';
    for (let i = 0; i < 10; i++) sel = `parent { ${sel} }`;
    const m = `mutation { categoryCreate(input: { name: "Deep", slug: "too-deep" }) { ${sel} } }`;
    const r = rejected(await t.gql(m, {}, admin), 'deep mutation');
    expect(r.status).toBe(400);
    expect(r.data).toBeUndefined();
    expect(r.errors).toEqual([
      {
        message: 'Syntax Error: Query depth limit of 10 exceeded, found 12.',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
    const [{ n }] = await sql(`select count(*)::int as n from category where slug = 'too-deep'`);
    expect(n).toBe(0);
  });
});

describe('alias limit (GRAPHQL_MAX_ALIASES = 15)', () => {
  const aliased = (k: number) =>
    `{ ${Array.from({ length: k }, (_, i) => `a${i}: categories { id }`).join(' ')} }`;

  test('15 aliases run; 16 are rejected with 400', async () => {
    const ok = await t.gql(aliased(15));
    expect(ok.status).toBe(200);
    expect(ok.errors).toBeUndefined();
    expect(Object.keys(ok.data)).toHaveLength(15);

    const many = rejected(await t.gql(aliased(16)), '16 aliases');
    expect(many.status).toBe(400);
    expect(many.data).toBeUndefined();
    expect(many.errors).toEqual([
      {
        message: 'Syntax Error: Aliases limit of 15 exceeded, found 16.',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
    expect(many.extensions?.sqlStatements).toBe(0);

    const huge = rejected(await t.gql(aliased(200)), '200 aliases');
    expect(huge.status).toBe(400);
    expect(huge.errors![0].message).toBe('Syntax Error: Aliases limit of 15 exceeded, found 200.');
  });

  test('16 aliased mutations are rejected and none of them runs', async () => {
    const m = `mutation { ${Array.from({ length: 16 }, (_, i) => `c${i}: categoryCreate(input: { name: "A${i}", slug: "alias-${i}" }) { id }`).join(' ')} }`;
    const r = rejected(await t.gql(m, {}, admin), '16 aliased mutations');
    expect(r.status).toBe(400);
    expect(r.data).toBeUndefined();
    expect(r.errors).toEqual([
      {
        message: 'Syntax Error: Aliases limit of 15 exceeded, found 16.',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
    const [{ n }] = await sql(`select count(*)::int as n from category where slug like 'alias-%'`);
    expect(n).toBe(0);
  });
});

describe('cost limit (the model of src/server/protection/cost.ts; more in protection-cost.test.ts)', () => {
  const SMALL = `{ products(first: 5) { edges { node { id title } } } }`;
  const BIG = `{ products(first: 50) { edges { node { id title } } } }`;
  let cheap: TestApp;
  beforeAll(async () => {
    cheap = await startTestApp({ GRAPHQL_MAX_COST: '50' });
  });
  afterAll(() => cheap?.stop());

  test('with GRAPHQL_MAX_COST=50 a small query runs and a bigger one is rejected with 400 QUERY_TOO_COSTLY', async () => {
    const small = await cheap.gql(SMALL);
    expect(small.status).toBe(200);
    expect(small.errors).toBeUndefined();
    expect(small.data).toEqual({ products: { edges: [] } });

    const big = rejected(await cheap.gql(BIG), 'cost over 50');
    expect(big.status).toBe(400);
    expect(big.data).toBeUndefined();
    expect(big.errors).toHaveLength(1);
    expect(big.errors![0].extensions).toEqual({
      code: 'QUERY_TOO_COSTLY',
      cost: { requested: 51, limit: 50 },
    });
    expect(big.errors![0].message).toBe('Query cost 51 exceeds the limit of 50');
    expect(big.extensions?.sqlStatements).toBe(0);
  });

  test('the same bigger query runs under the default limit', async () => {
    const r = await t.gql(BIG);
    expect(r.status).toBe(200);
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ products: { edges: [] } });
  });

  test('a page of 100 products with variants runs under the default limit (it was refused before)', async () => {
    const q = `{ products(first: 100) { edges { node { id title variants { id sku price { amount currency } product { id title } } priceRange { min { amount } max { amount } } } } } }`;
    const r = await t.gql(q);
    expect(r.status).toBe(200);
    expect(r.errors).toBeUndefined();
  });

  test('a very expensive query is rejected under the default limit (25000) too', async () => {
    const q = `{ products(first: 100) { edges { node { id variants { product { variants { id } } } } } } }`;
    const r = rejected(await t.gql(q), 'cost over 25000');
    expect(r.status).toBe(400);
    expect(r.data).toBeUndefined();
    expect(r.errors![0].extensions?.code).toBe('QUERY_TOO_COSTLY');
    expect(r.errors![0].message).toMatch(/^Query cost \d+ exceeds the limit of 25000$/);
  });
});

describe('HTTP handling', () => {
  const json = { 'content-type': 'application/json' };
  const CSRF = /blocked as a potential Cross-Site Request Forgery/;
  const getQuery = (q: string) => `/graphql?query=${encodeURIComponent(q)}`;

  test('a malformed JSON body is 400 BAD_REQUEST', async () => {
    const r = await raw('malformed JSON', {
      method: 'POST',
      headers: json,
      body: '{"query": "{ __typename }"',
    });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      errors: [{ message: 'Malformed JSON body', extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  test.each([
    ['an empty body', '', 'POST body missing, invalid Content-Type, or JSON object has no keys.'],
    ['an empty object', '{}', 'POST body missing, invalid Content-Type, or JSON object has no keys.'],
    ['a batch', '[{"query":"{ __typename }"}]', 'Operation batching disabled.'],
    ['a non-string query', '{"query": 5}', 'GraphQL queries must be strings.'],
  ])('%s is 400 BAD_REQUEST', async (what, body, message) => {
    const r = await raw(what, { method: 'POST', headers: json, body });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ message, extensions: { code: 'BAD_REQUEST' } }]);
  });

  test('a query that does not parse is 400 GRAPHQL_PARSE_FAILED', async () => {
    const r = await raw('parse error', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ query: '{ categories {' }),
    });
    expect(r.status).toBe(400);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors[0].extensions).toEqual({ code: 'GRAPHQL_PARSE_FAILED' });
  });

  test('CSRF prevention: a simple GET without a preflight header or content-type is 400 and not executed', async () => {
    const r = await raw('CSRF GET', { method: 'GET' }, getQuery('{ __typename }'));
    expect(r.status).toBe(400);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors).toHaveLength(1);
    expect(r.body.errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
    expect(r.body.errors[0].message).toMatch(CSRF);
  });

  test('CSRF prevention: GET with apollo-require-preflight, x-apollo-operation-name or a JSON content-type works', async () => {
    for (const headers of [
      { 'apollo-require-preflight': 'true' },
      { 'x-apollo-operation-name': 'Typename' },
      json,
    ] as Record<string, string>[]) {
      const r = await raw(
        'GET with header',
        { method: 'GET', headers },
        getQuery('query Typename { __typename }'),
      );
      expect(r.status).toBe(200);
      expect(r.body.data).toEqual({ __typename: 'Query' });
      expect(r.body.errors).toBeUndefined();
    }
  });

  test('CSRF prevention: POST with a simple content-type (text/plain, form) is 400', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const r = await raw(`CSRF POST ${type}`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: '{"query":"{ __typename }"}',
      });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
      expect(r.body.errors[0].message).toMatch(CSRF);
    }
  });

  test('a mutation over GET is refused (405) and not executed', async () => {
    const m = `mutation { categoryCreate(input: { name: "Via GET", slug: "via-get" }) { id } }`;
    const r = await raw(
      'mutation over GET',
      { method: 'GET', headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${admin}` } },
      getQuery(m),
    );
    expect(r.status).toBe(405);
    expect(r.body.errors[0]).toEqual({
      message: 'GET requests only support query operations, not mutation operations',
      extensions: { code: 'BAD_REQUEST' },
    });
    const [{ n }] = await sql(`select count(*)::int as n from category where slug = 'via-get'`);
    expect(n).toBe(0);
  });

  test('other methods on /graphql are 405', async () => {
    const r = await raw('PUT', { method: 'PUT', headers: json, body: '{"query":"{ __typename }"}' });
    expect(r.status).toBe(405);
    expect(r.body.errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
  });

  test('an unknown route is 404', async () => {
    for (const path of ['/nope', '/graphql/extra', '/GRAPHQL', '/']) {
      const r = await raw(`404 ${path}`, { method: 'GET' }, path);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: 'Not found' });
    }
    const post = await raw(
      '404 POST',
      { method: 'POST', headers: json, body: '{"query":"{ __typename }"}' },
      '/api/graphql',
    );
    expect(post.status).toBe(404);
  });

  test('health and readiness answer', async () => {
    expect(await raw('healthz', { method: 'GET' }, '/healthz')).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await raw('readyz', { method: 'GET' }, '/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready' },
    });
  });

  test('an unknown field is 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const r = rejected(await t.gql('{ nope }'), 'unknown field');
    expect(r.status).toBe(400);
    expect(r.errors).toEqual([
      {
        message: 'Cannot query field "nope" on type "Query".',
        locations: [{ line: 1, column: 3 }],
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      },
    ]);
  });
});

test('every error response above carries an extensions.code, and none is INTERNAL_SERVER_ERROR', () => {
  expect(errorResponses.length).toBeGreaterThanOrEqual(20);
  for (const r of errorResponses) {
    expect(r.body.errors.length).toBeGreaterThan(0);
    for (const e of r.body.errors) {
      expect({ what: r.what, code: typeof e.extensions?.code }).toEqual({ what: r.what, code: 'string' });
      expect({ what: r.what, code: e.extensions.code }).not.toEqual({
        what: r.what,
        code: 'INTERNAL_SERVER_ERROR',
      });
      expect(r.status).not.toBe(500);
      expect(r.status).toBeGreaterThanOrEqual(400);
    }
  }
});
