import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getOperationAST, parse } from 'graphql';
import { loadConfig } from '../../src/config';
import { Role } from '../../src/modules/identity/user.entity';
import {
  canManageWebhooks,
  partnerOperationError,
  rootFields,
} from '../../src/modules/partner/partner.access';
import { hashSecret, isWellFormedSecret, newSecret } from '../../src/modules/partner/partner.keys';
import { PartnerScope } from '../../src/shared/partner-scope';
import { buildAppSchema } from '../../src/server/schema';
import {
  loadManifest,
  translateHttpRequest,
  type DocumentSources,
} from '../../src/server/persisted-documents';
import type { Principal } from '../../src/shared/auth';

const id = (text: string) => 'sha256:' + createHash('sha256').update(text).digest('hex');

const partner = (scopes: PartnerScope[], merchantId = '7'): Principal => ({
  userId: '0',
  roles: [Role.MERCHANT],
  merchantId,
  partner: { id: '3', merchantId, scopes },
});
const merchant = (merchantId: string): Principal => ({ userId: '5', roles: [Role.MERCHANT], merchantId });
const admin: Principal = { userId: '1', roles: [Role.ADMIN], merchantId: null };

const check = (p: Principal, text: string) => {
  const doc = parse(text);
  return partnerOperationError(p, doc, getOperationAST(doc)!);
};

describe('partner scopes', () => {
  test('root fields are found through fragments and inline fragments', () => {
    const doc = parse(`query { __typename ...F ... on Query { order(id: "1") { id } } }
      fragment F on Query { products { totalCount } ...G } fragment G on Query { viewer { id } }`);
    expect(rootFields(doc, getOperationAST(doc)!).sort()).toEqual(['order', 'products', 'viewer']);
  });

  test('each path needs its scope; other fields and other scopes are FORBIDDEN', () => {
    const all = Object.values(PartnerScope);
    expect(
      check(partner([PartnerScope.CATALOG_READ]), `{ products { totalCount } categories { id } }`),
    ).toBeNull();
    expect(
      check(partner([PartnerScope.ORDERS_READ]), `{ orders { totalCount } order(id: "1") { id } }`),
    ).toBeNull();
    expect(
      check(partner([PartnerScope.ORDERS_READ]), `subscription { merchantOrderEvents { id } }`),
    ).toBeNull();
    expect(
      check(
        partner([PartnerScope.FULFILLMENT_WRITE]),
        `mutation { orderShip(orderId: "1", carrier: "x", trackingNumber: "y") { __typename } }`,
      ),
    ).toBeNull();
    const forbidden = [
      [[PartnerScope.ORDERS_READ], `{ products { totalCount } }`],
      [[PartnerScope.CATALOG_READ], `{ products { totalCount } orders { totalCount } }`],
      [[PartnerScope.CATALOG_READ], `{ ... on Query { orders { totalCount } } }`],
      [[PartnerScope.ORDERS_READ], `subscription { orderEvents(orderId: "1") { id } }`],
      [all, `{ viewer { id } }`],
      [all, `mutation { partnerCreate(input: { name: "x", scopes: [] }) { id } }`],
      [all, `{ __schema { types { name } } }`],
    ] as const;
    for (const [scopes, text] of forbidden) {
      const e = check(partner([...scopes]), text);
      expect(e?.extensions).toMatchObject({ code: 'FORBIDDEN', http: { status: 403 } });
    }
    // Users are not concerned.
    expect(check(merchant('7'), `{ viewer { id } }`)).toBeNull();
  });

  test('canManageWebhooks: admin, the merchant, its partners with WEBHOOKS; never another shop', () => {
    expect(canManageWebhooks(admin, '7')).toBe(true);
    expect(canManageWebhooks(merchant('7'), '7')).toBe(true);
    expect(canManageWebhooks(merchant('8'), '7')).toBe(false);
    expect(canManageWebhooks(partner([PartnerScope.WEBHOOKS]), '7')).toBe(true);
    expect(canManageWebhooks(partner([PartnerScope.WEBHOOKS], '8'), '7')).toBe(false);
    expect(canManageWebhooks(partner([PartnerScope.ORDERS_READ, PartnerScope.CATALOG_READ]), '7')).toBe(
      false,
    );
    expect(canManageWebhooks(null, '7')).toBe(false);
  });

  test('API key secrets: 256 random bits, well-formed, stored as their SHA-256', () => {
    const a = newSecret();
    const b = newSecret();
    expect(a.secret).not.toBe(b.secret);
    expect(isWellFormedSecret(a.secret)).toBe(true);
    expect(Buffer.from(a.secret.slice(3), 'base64url')).toHaveLength(32);
    expect(a.hash).toBe(hashSecret(a.secret));
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(a.secret.slice(0, 11));
    for (const bad of ['sk_', 'sk_abc', `${a.secret}=`, a.secret.replace('sk_', 'pk_')])
      expect(isWellFormedSecret(bad)).toBe(false);
  });
});

describe('request translation', () => {
  const Q = `query Q { products { totalCount } }`;
  const sources = (over: Partial<DocumentSources> = {}): DocumentSources => ({
    enforce: false,
    trusted: new Map(),
    forPartner: async (partnerId, docId) => (partnerId === '3' && docId === id(Q) ? Q : undefined),
    ...over,
  });
  const post = (body: unknown) => ({ method: 'POST', body, search: '' });

  test('a partner: its documents by id or APQ hash become their text; anything else is refused', async () => {
    const p = partner([PartnerScope.CATALOG_READ]);
    const byId = await translateHttpRequest(post({ documentId: id(Q), variables: { a: 1 } }), p, sources());
    expect(byId).toEqual({ ok: true, request: post({ variables: { a: 1 }, query: Q }) });
    const apq = await translateHttpRequest(
      post({
        extensions: {
          persistedQuery: { version: 1, sha256Hash: id(Q).toUpperCase().replace('SHA256:', 'sha256:') },
        },
      }),
      p,
      sources(),
    );
    expect(apq).toEqual({ ok: true, request: post({ query: Q }) });
    const get = await translateHttpRequest(
      { method: 'GET', body: undefined, search: `?documentId=${id(Q)}&operationName=Q` },
      p,
      sources(),
    );
    expect(get.ok && new URLSearchParams(get.request.search).get('query')).toBe(Q);
    expect(get.ok && new URLSearchParams(get.request.search).get('documentId')).toBeNull();
    for (const body of [{ query: Q }, [{ query: Q }], 'query=x', { documentId: id('other'), query: 'other' }])
      expect(await translateHttpRequest(post(body), p, sources())).toMatchObject({
        ok: false,
        error: { status: 400, code: 'PERSISTED_QUERY_REQUIRED' },
      });
    const preflight = { method: 'OPTIONS', body: undefined, search: '' };
    expect(await translateHttpRequest(preflight, p, sources({ enforce: true }))).toEqual({
      ok: true,
      request: preflight,
    });
    expect(await translateHttpRequest(post({ documentId: id('other') }), p, sources())).toMatchObject({
      ok: false,
      error: { code: 'PERSISTED_QUERY_NOT_FOUND' },
    });
  });

  test('everyone else: ids go to APQ (prefix stripped), manifest ids to their text, mismatches are 400', async () => {
    const hex = id(Q).slice(7);
    expect(await translateHttpRequest(post({ documentId: id(Q) }), null, sources())).toEqual({
      ok: true,
      request: post({ extensions: { persistedQuery: { version: 1, sha256Hash: hex } } }),
    });
    expect(
      await translateHttpRequest(
        post({ documentId: id(Q) }),
        null,
        sources({ trusted: new Map([[id(Q), Q]]) }),
      ),
    ).toEqual({ ok: true, request: post({ query: Q }) });
    const plain = post({ query: Q });
    expect(await translateHttpRequest(plain, null, sources())).toEqual({ ok: true, request: plain });
    for (const body of [
      { query: Q, documentId: id('x') },
      { query: Q, extensions: { persistedQuery: { version: 1, sha256Hash: id('x') } } },
      { documentId: 'sha256:xyz' },
      { documentId: id(Q), extensions: { persistedQuery: { version: 1, sha256Hash: id('x') } } },
    ])
      expect(await translateHttpRequest(post(body), null, sources())).toMatchObject({
        ok: false,
        error: { status: 400, code: 'BAD_REQUEST' },
      });
  });
});

describe('trusted-documents manifest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'manifest-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: dir, JWT_SECRET: 'x'.repeat(32) });
  const write = (m: unknown) => {
    const path = join(dir, `m${Math.random()}.json`);
    writeFileSync(path, JSON.stringify(m));
    return path;
  };
  const good = `query Cats { categories { id } }`;

  test('loads a manifest whose ids hash valid documents', () => {
    expect(loadManifest(write({ [id(good)]: good }), buildAppSchema(), config).get(id(good))).toBe(good);
  });

  test('refuses a wrong hash or an invalid document, naming it', () => {
    const bad = `query { nope }`;
    expect(() => loadManifest(write({ [id('x')]: good }), buildAppSchema(), config)).toThrow(id('x'));
    expect(() => loadManifest(write({ [id(bad)]: bad }), buildAppSchema(), config)).toThrow(id(bad));
    expect(() => loadManifest(write([good]), buildAppSchema(), config)).toThrow(/JSON object/);
  });

  test('TRUSTED_DOCUMENTS=enforce needs a manifest that exists', () => {
    const base = { NODE_ENV: 'test', DATA_DIR: dir, JWT_SECRET: 'x'.repeat(32) };
    expect(() => loadConfig({ ...base, TRUSTED_DOCUMENTS: 'enforce' })).toThrow(/TRUSTED_DOCUMENTS_MANIFEST/);
    expect(() => loadConfig({ ...base, TRUSTED_DOCUMENTS: 'on' })).toThrow(/TRUSTED_DOCUMENTS/);
    expect(() =>
      loadConfig({
        ...base,
        TRUSTED_DOCUMENTS: 'enforce',
        TRUSTED_DOCUMENTS_MANIFEST: join(dir, 'missing.json'),
      }),
    ).toThrow(/names no file/);
    expect(
      loadConfig({ ...base, TRUSTED_DOCUMENTS: 'enforce', TRUSTED_DOCUMENTS_MANIFEST: write({}) })
        .trustedDocuments.enforce,
    ).toBe(true);
  });
});
