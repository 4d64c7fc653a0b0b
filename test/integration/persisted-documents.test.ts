import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { RedisKeyValueCache } from '../../src/server/apq-cache';
import { docId, get, hexOf, post, REGISTER } from '../factories/partners';
import { ADMIN, startTestApp, type TestApp } from '../support/app';
import { codeOf, type GqlResponse } from '../support/client';

/**
 * Persisted documents over HTTP against the real server: Apollo APQ (miss, register, hit) by POST
 * and GET with and without the "sha256:" prefix, documentId by POST and GET, hash mismatches as 400,
 * the APQ store shared by two server processes through Redis, and TRUSTED_DOCUMENTS=enforce.
 */

/** A document no earlier run has stored in the shared Redis (its operation name is new). */
const fresh = () => `query Q_${randomBytes(6).toString('hex')} { categories { id name } }`;
const apq = (sha256Hash: string) => ({ persistedQuery: { version: 1, sha256Hash } });
const ok = (r: GqlResponse) => {
  expect(r.errors).toBeUndefined();
  expect(r.status).toBe(200);
  expect(Array.isArray(r.data.categories)).toBe(true);
};
const notFound = (r: GqlResponse) => {
  expect(codeOf(r)).toBe('PERSISTED_QUERY_NOT_FOUND');
  expect(r.data).toBeUndefined();
};
const badRequest = (r: GqlResponse) => expect([r.status, codeOf(r)]).toEqual([400, 'BAD_REQUEST']);

let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  const redis = { REDIS_URL: process.env.TEST_REDIS_URL! };
  [a, b] = await Promise.all([startTestApp(redis), startTestApp(redis)]);
});
afterAll(() => Promise.all([a?.stop(), b?.stop()]));

describe('APQ', () => {
  test.each([
    ['without', (q: string) => hexOf(q)],
    ['with', (q: string) => docId(q)],
  ])('POST: miss, register, hit (hash %s the sha256: prefix)', async (_, hashOf) => {
    const query = fresh();
    notFound(await post(a.url, { extensions: apq(hashOf(query)) }));
    ok(await post(a.url, { query, extensions: apq(hashOf(query)) }));
    ok(await post(a.url, { extensions: apq(hashOf(query)) }));
    // Registered with one spelling, found with the other.
    ok(await post(a.url, { extensions: apq(hashOf(query) === hexOf(query) ? docId(query) : hexOf(query)) }));
  });

  test.each([
    ['without', (q: string) => hexOf(q)],
    ['with', (q: string) => docId(q)],
  ])('GET: miss, register, hit (hash %s the sha256: prefix)', async (_, hashOf) => {
    const query = fresh();
    notFound(await get(a.url, { extensions: apq(hashOf(query)) }));
    ok(await get(a.url, { query, extensions: apq(hashOf(query)) }));
    ok(await get(a.url, { extensions: apq(hashOf(query)) }));
  });

  test('the store is shared by every process through Redis', async () => {
    const query = fresh();
    notFound(await post(b.url, { extensions: apq(hexOf(query)) }));
    ok(await post(a.url, { query, extensions: apq(hexOf(query)) }));
    // Apollo stores after answering: give the write a moment.
    let r = await post(b.url, { extensions: apq(hexOf(query)) });
    for (let i = 0; i < 20 && codeOf(r); i++) {
      await new Promise((res) => setTimeout(res, 50));
      r = await post(b.url, { extensions: apq(hexOf(query)) });
    }
    ok(r);
    ok(await get(b.url, { documentId: docId(query) }));
  });
});

describe('documentId', () => {
  test('by POST and GET: unknown, stored with its text, then by id alone', async () => {
    const query = `query Cats_${randomBytes(6).toString('hex')}($x: Boolean!) { categories @include(if: $x) { id } }`;
    notFound(await post(a.url, { documentId: docId(query), variables: { x: true } }));
    notFound(await get(a.url, { documentId: docId(query), variables: { x: true } }));
    const stored = await post(a.url, { documentId: docId(query), query, variables: { x: true } });
    expect(Array.isArray(stored.data.categories)).toBe(true);
    const byPost = await post(a.url, { documentId: docId(query), variables: { x: false } });
    expect(byPost.data).toEqual({});
    const byGet = await get(a.url, {
      documentId: docId(query),
      variables: { x: true },
      operationName: query.split(/[ (]/)[1],
    });
    expect(byGet.errors).toBeUndefined();
    expect(Array.isArray(byGet.data.categories)).toBe(true);
  });

  test('a hash that does not match its text, or a malformed id, is a 400 (never a 500)', async () => {
    const query = fresh();
    const other = fresh();
    badRequest(await post(a.url, { query, extensions: apq(hexOf(other)) }));
    badRequest(await post(a.url, { query, extensions: apq(docId(other)) }));
    badRequest(await get(a.url, { query, extensions: apq(hexOf(other)) }));
    badRequest(await post(a.url, { query, documentId: docId(other) }));
    badRequest(await get(a.url, { query, documentId: docId(other) }));
    badRequest(await post(a.url, { documentId: 'md5:abc' }));
    badRequest(await get(a.url, { documentId: hexOf(query) }));
    badRequest(await post(a.url, { documentId: docId(query), extensions: apq(hexOf(other)) }));
    badRequest(await post(a.url, { extensions: apq('not-a-hash') }));
    // Nothing was stored under the wrong hash.
    notFound(await post(a.url, { extensions: apq(hexOf(other)) }));
  });
});

describe('TRUSTED_DOCUMENTS=enforce', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trusted-'));
  const CATS = `query Cats { categories { id name } }`;
  const BY_ID = `query Product($id: ID!) { product(id: $id) { id } }`;
  // A merchant console's own documents, as its build would list them in the manifest.
  const SIGN_IN = `mutation SignIn($e: String!, $p: String!) { signIn(email: $e, password: $p) { ... on AuthPayload { token } } }`;
  const MERCHANT = `mutation Merchant($i: MerchantCreateInput!) { merchantCreate(input: $i) { id } }`;
  const PARTNER = `mutation Partner($m: ID) { partnerCreate(input: { name: "ERP", merchantId: $m, scopes: [CATALOG_READ] }) { id } }`;
  const KEY = `mutation Key($p: ID!) { apiKeyCreate(partnerId: $p) { secret } }`;
  const MANIFEST = [CATS, BY_ID, SIGN_IN, MERCHANT, PARTNER, KEY, REGISTER];
  let c: TestApp;
  const byId = (text: string, variables: Record<string, unknown> = {}, token?: string) =>
    post(c.url, { documentId: docId(text), variables }, token);

  beforeAll(async () => {
    const manifest = join(dir, 'persisted-documents.json');
    writeFileSync(manifest, JSON.stringify(Object.fromEntries(MANIFEST.map((d) => [docId(d), d]))));
    c = await startTestApp({ TRUSTED_DOCUMENTS: 'enforce', TRUSTED_DOCUMENTS_MANIFEST: manifest });
  });
  afterAll(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the manifest's documents run by id; anything else is refused for everyone", async () => {
    ok(await byId(CATS));
    ok(await get(c.url, { documentId: docId(CATS) }));
    ok(await post(c.url, { extensions: apq(hexOf(CATS)) }));
    ok(await get(c.url, { extensions: apq(docId(CATS)) }));
    const p = await byId(BY_ID, { id: '1' });
    expect(p.errors).toBeUndefined();
    expect(p.data).toEqual({ product: null });

    const required = (r: GqlResponse) => {
      expect([r.status, codeOf(r)]).toEqual([400, 'PERSISTED_QUERY_REQUIRED']);
      expect(r.data).toBeUndefined();
    };
    const adHoc = `{ categories { id } }`;
    required(await post(c.url, { query: adHoc }));
    required(await get(c.url, { query: adHoc }));
    required(await post(c.url, { query: CATS })); // the text alone is not an id
    required(await post(c.url, { query: adHoc, extensions: apq(hexOf(adHoc)) })); // no APQ registration
    notFound(await post(c.url, { documentId: docId(adHoc) }));
    // Signed in or not.
    const admin = (await byId(SIGN_IN, { e: ADMIN.email, p: ADMIN.password })).data.signIn.token;
    required(await c.gql(adHoc, {}, admin));
  });

  test('partners run their own registered documents there, not the manifest', async () => {
    const admin = (await byId(SIGN_IN, { e: ADMIN.email, p: ADMIN.password })).data.signIn.token;
    const i = {
      name: 'Enforced',
      ownerEmail: `o-${randomBytes(4).toString('hex')}@t.local`,
      ownerPassword: 'owner-password',
      ownerName: 'O',
    };
    const merchantId = (await byId(MERCHANT, { i }, admin)).data.merchantCreate.id;
    const partnerId = (await byId(PARTNER, { m: merchantId }, admin)).data.partnerCreate.id;
    const secret = (await byId(KEY, { p: partnerId }, admin)).data.apiKeyCreate.secret;
    const mine = `query Mine { products(first: 1) { edges { node { id } } } }`;
    const reg = await byId(REGISTER, { p: partnerId, d: [{ id: docId(mine), body: mine }] }, admin);
    expect(reg.data.persistedDocumentsRegister).toMatchObject({ registered: 1 });
    const r = await post(c.url, { documentId: docId(mine) }, secret);
    expect(r.errors).toBeUndefined();
    expect(r.data.products.edges).toEqual([]);
    notFound(await post(c.url, { documentId: docId(CATS) }, secret));
  });
});

describe('the Redis APQ store', () => {
  const log = pino({ level: 'silent' });

  test('keeps entries with their TTL', async () => {
    const cache = RedisKeyValueCache.connect(process.env.TEST_REDIS_URL!, log);
    try {
      const key = `apq:${randomBytes(8).toString('hex')}`;
      await cache.set(key, 'query { a }', { ttl: 60 });
      expect(await cache.get(key)).toBe('query { a }');
      expect(await cache.delete(key)).toBe(true);
      expect(await cache.get(key)).toBeUndefined();
    } finally {
      await cache.close();
    }
  });

  test('a Redis that is away reads as a miss, never as an error', async () => {
    const cache = RedisKeyValueCache.connect('redis://127.0.0.1:1', log);
    try {
      const started = Date.now();
      await expect(cache.set('apq:x', 'query { a }', { ttl: 60 })).resolves.toBeUndefined();
      await expect(cache.get('apq:x')).resolves.toBeUndefined();
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await cache.close();
    }
  });
});
