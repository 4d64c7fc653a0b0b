import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'graphql';
import { buildAppSchema } from '../../src/server/schema';
import { ifNoneMatchHits, isPublicCatalogOperation } from '../../src/server/http-cache';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { createKey, createPartner, docId, register } from '../factories/partners';
import { startTestApp, type TestApp } from '../support/app';

/**
 * HTTP caching of the public catalog (docs/http.md "HTTP caching") against the real server:
 * anonymous GETs of catalog-only queries are `public` with an ETag and answer 304 to a matching
 * If-None-Match; credentials make them `private, no-store`; POSTs, mutations, errors, non-catalog
 * and viewer-dependent fields are `no-store`. And /metrics labels the names of registered documents
 * even after the first-come label budget is spent.
 */

const SHOP = 'http://shop.test';
const CATALOG = `query StorefrontCatalog($q: String, $first: Int) {
  products(filter: { query: $q }, first: $first) { totalCount edges { node { id slug title } } }
}`;
const PRODUCT = `query StorefrontProduct($slug: String!) { product(slug: $slug) { id title slug variants { id price { amount } } } }`;
const STOCK = `query StockCounts($slug: String!) { product(slug: $slug) { variants { inventory { onHand } } } }`;
const VIEWER = `query Me { viewer { id } }`;
// Runs only after the label budget is spent (the last test).
const LATE = `query ManifestLate { categories { id } }`;
const MANIFEST = [CATALOG, PRODUCT, STOCK, VIEWER, LATE];

let t: TestApp;
let dir: string;
let slug: string;
let productId: string;
let merchant: { id: string; token: string };

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function getDoc(
  text: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const search = new URLSearchParams({ documentId: docId(text), variables: JSON.stringify(variables) });
  const res = await fetch(`${t.url}?${search}`, {
    headers: { 'apollo-require-preflight': 'true', origin: SHOP, ...headers },
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function postQuery(body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: SHOP, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const expectNotStored = (a: Answer, cacheControl = 'no-store') => {
  expect(a.headers.get('cache-control')).toBe(cacheControl);
  expect(a.headers.get('etag')).toBeNull();
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'http-cache-'));
  const manifest = join(dir, 'persisted-documents.json');
  writeFileSync(manifest, JSON.stringify(Object.fromEntries(MANIFEST.map((d) => [docId(d), d]))));
  t = await startTestApp({
    TRUSTED_DOCUMENTS_MANIFEST: manifest,
    CORS_ORIGINS: SHOP,
    HTTP_PUBLIC_MAX_AGE_SECONDS: '45',
    METRICS_MAX_OPERATION_NAMES: '3',
  });
  merchant = await createMerchant(t.gql, await adminToken(t.gql));
  const p = await createProduct(t.gql, merchant.token, { title: 'Cacheable Teapot' });
  productId = p.id;
  slug = (await t.gql(`query($id: ID!) { product(id: $id) { slug } }`, { id: p.id })).data.product.slug;
});
afterAll(async () => {
  await t?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('public catalog GETs', () => {
  test('are public with an ETag, vary on Authorization, and answer 304 to If-None-Match', async () => {
    const first = await getDoc(CATALOG, { q: 'teapot', first: 5 });
    expect(first.status).toBe(200);
    expect(JSON.parse(first.text).data.products.totalCount).toBe(1);
    expect(first.headers.get('cache-control')).toBe('public, max-age=45');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]{27}"$/);
    const vary = first.headers.get('vary')!.toLowerCase();
    expect(vary).toContain('authorization');
    expect(vary).toContain('origin'); // CORS's Vary survives
    expect(first.headers.get('access-control-allow-origin')).toBe(SHOP);

    // The same answer, the same tag: a CDN or the browser revalidates for free.
    const again = await getDoc(CATALOG, { q: 'teapot', first: 5 }, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('cache-control')).toBe('public, max-age=45');
    // Lists, and the strong form of the same tag, match too (weak comparison).
    expect(
      (await getDoc(CATALOG, { q: 'teapot', first: 5 }, { 'if-none-match': `"x", ${etag.slice(2)}` })).status,
    ).toBe(304);
    // Another tag: the full answer.
    const other = await getDoc(CATALOG, { q: 'teapot', first: 5 }, { 'if-none-match': 'W/"stale"' });
    expect(other.status).toBe(200);
    expect(JSON.parse(other.text).data).toEqual(JSON.parse(first.text).data);
    expect(other.headers.get('etag')).toBe(etag);
  });

  test('a changed product changes the ETag', async () => {
    const before = await getDoc(PRODUCT, { slug });
    expect(before.headers.get('cache-control')).toBe('public, max-age=45');
    const r = await t.gql(
      `mutation($id: ID!) { productUpdate(id: $id, input: { title: "Cacheable Teapot II" }) { title } }`,
      { id: productId },
      merchant.token,
    );
    expect(r.errors).toBeUndefined();
    const after = await getDoc(PRODUCT, { slug }, { 'if-none-match': before.headers.get('etag')! });
    expect(after.status).toBe(200);
    expect(JSON.parse(after.text).data.product.title).toBe('Cacheable Teapot II');
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  test('with credentials the same document is private, no-store, and never 304', async () => {
    const shopper = await signUpCustomer(t.gql);
    const anonymous = await getDoc(CATALOG, { q: 'teapot', first: 5 });
    const signedIn = await getDoc(
      CATALOG,
      { q: 'teapot', first: 5 },
      { authorization: `Bearer ${shopper.token}`, 'if-none-match': anonymous.headers.get('etag')! },
    );
    expect(signedIn.status).toBe(200);
    expectNotStored(signedIn, 'private, no-store');

    const partnerId = await createPartner(t.gql, merchant.token, ['CATALOG_READ']);
    const key = await createKey(t.gql, merchant.token, partnerId);
    await register(t.gql, merchant.token, partnerId, [CATALOG]);
    const partner = await getDoc(
      CATALOG,
      { q: 'teapot', first: 5 },
      { authorization: `Bearer ${key.secret}` },
    );
    expect(partner.status).toBe(200);
    expectNotStored(partner, 'private, no-store');
  });

  test('POSTs, non-catalog roots, viewer-dependent fields, mutations and errors are not stored', async () => {
    // The catalog document, but by POST.
    const byPost = await postQuery({ documentId: docId(CATALOG), variables: { q: 'teapot', first: 5 } });
    expect(byPost.status).toBe(200);
    expectNotStored(byPost);
    // Not a catalog root field.
    expectNotStored(await getDoc(VIEWER, {}));
    // A catalog root, but exact stock counts depend on who asks.
    const stock = await getDoc(STOCK, { slug });
    expect(JSON.parse(stock.text).errors).toBeUndefined();
    expectNotStored(stock);
    // A mutation over GET is refused (405), and the refusal is not stored either.
    const search = new URLSearchParams({
      query: 'mutation { signIn(email: "a@b.c", password: "x") { __typename } }',
    });
    const mutation = await fetch(`${t.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(mutation.status).toBe(405);
    expect(mutation.headers.get('cache-control')).toBe('no-store');
    // A GraphQL error (a variable of the wrong type) on a catalog document.
    const bad = await getDoc(CATALOG, { q: 'teapot', first: 'many' });
    expect(JSON.parse(bad.text).errors).toBeDefined();
    expectNotStored(bad);
    // An unknown document id (the APQ "not found" answer) and a malformed one (400 at the edge).
    expectNotStored(await getDoc(`query Unknown { categories { id } }`, {}));
    const malformed = await fetch(`${t.url}?documentId=sha256:nothex`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('cache-control')).toBe('no-store');
  });

  test('ad-hoc catalog GETs are public too; introspection and fragments reaching private fields are not', async () => {
    const get = async (query: string) => {
      const res = await fetch(`${t.url}?${new URLSearchParams({ query })}`, {
        headers: { 'apollo-require-preflight': 'true' },
      });
      return res.headers.get('cache-control');
    };
    expect(await get(`{ categories { id name } }`)).toBe('public, max-age=45');
    expect(await get(`{ __schema { queryType { name } } }`)).toBe('no-store');
    expect(await get(`query { ...Q } fragment Q on Query { categories { id } viewer { id } }`)).toBe(
      'no-store',
    );
  });
});

describe('which documents are public catalog documents', () => {
  const schema = buildAppSchema();
  const decide = (text: string) => {
    const doc = parse(text);
    const op = doc.definitions.find((d) => d.kind === 'OperationDefinition')!;
    return isPublicCatalogOperation(schema, doc, op as any);
  };

  test('catalog roots only, no viewer-dependent fields, queries only', () => {
    expect(decide(CATALOG)).toBe(true);
    expect(decide(PRODUCT)).toBe(true);
    expect(decide(`{ categories { id } category(slug: "x") { name } __typename }`)).toBe(true);
    expect(decide(STOCK)).toBe(false);
    expect(
      decide(
        `{ products { edges { node { ...V } } } } fragment V on Product { variants { inventory { onHand } } }`,
      ),
    ).toBe(false);
    expect(decide(`{ categories { id } orders { totalCount } }`)).toBe(false);
    expect(decide(`mutation { signIn(email: "a@b.c", password: "x") { __typename } }`)).toBe(false);
    expect(decide(`subscription { orderEvents(orderId: "1") { __typename } }`)).toBe(false);
  });

  test('If-None-Match matching', () => {
    expect(ifNoneMatchHits(undefined, 'W/"a"')).toBe(false);
    expect(ifNoneMatchHits('W/"a"', 'W/"a"')).toBe(true);
    expect(ifNoneMatchHits('"b", "a"', 'W/"a"')).toBe(true);
    expect(ifNoneMatchHits('*', 'W/"a"')).toBe(true);
    expect(ifNoneMatchHits('"ab"', 'W/"a"')).toBe(false);
  });
});

describe('/metrics operation labels', () => {
  const series = async () => {
    const res = await fetch(t.url.replace(/\/graphql$/, '/metrics'));
    return (await res.text())
      .split('\n')
      .filter((l) => l.startsWith('graphql_operations_total{'))
      .map((l) => /operation="([^"]*)"/.exec(l)![1]);
  };

  test('names of registered documents are labelled after the first-come budget is spent', async () => {
    // Spend the budget (3 names) with ad-hoc client-chosen names.
    for (let i = 0; i < 6; i++) await postQuery({ query: `query AdHoc${i}_${Date.now()} { __typename }` });
    const spent = await series();
    expect(spent).toContain('other');
    // A manifest document.
    await getDoc(LATE, {});
    // A partner's registered document, registered after the server started.
    const partnerId = await createPartner(t.gql, merchant.token, ['CATALOG_READ']);
    const key = await createKey(t.gql, merchant.token, partnerId);
    const mine = `query PartnerSync { categories { id } }`;
    await register(t.gql, merchant.token, partnerId, [mine]);
    const r = await postQuery({ documentId: docId(mine) }, { authorization: `Bearer ${key.secret}` });
    expect(JSON.parse(r.text).errors).toBeUndefined();
    const s = await series();
    expect(s).toContain('ManifestLate');
    expect(s).toContain('PartnerSync');
    // Ad-hoc names after the budget stay `other`.
    await postQuery({ query: `query LateAdHoc { __typename }` });
    expect(await series()).not.toContain('LateAdHoc');
  });
});
