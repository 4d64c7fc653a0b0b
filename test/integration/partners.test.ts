import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sqlAll } from '../../src/db/sql';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import {
  createKey,
  createPartner,
  docId,
  get,
  hexOf,
  post,
  register,
  REGISTER,
  runDocument,
} from '../factories/partners';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { codeOf } from '../support/client';
import { subscribe, wsClient } from '../support/ws';

/**
 * Partners over HTTP against the real server: who may create them, API keys (use, rotation,
 * revocation, last use), registered documents only, scopes on every partner path, and a partner
 * never seeing another merchant's data.
 */

const hex = () => randomBytes(6).toString('hex');

const PRODUCTS = `query Products { products(first: 5) { edges { node { id title } } } }`;
const ORDERS = `query Orders { orders(first: 50) { edges { node { id merchant { id } } } } }`;
const ORDER = `query Order($id: ID!) { order(id: $id) { id status } }`;
const VIEWER = `query Viewer { viewer { id } }`;
const SHIP = `mutation Ship($o: ID!, $t: String!) { orderShip(orderId: $o, carrier: "DHL", trackingNumber: $t) {
  __typename ... on Shipment { id version trackingNumber } ... on ErrorResult { errorCode message } } }`;
const TRACK = `mutation Track($s: ID!, $t: String!, $v: Int!) { shipmentTrackingUpdate(shipmentId: $s, trackingNumber: $t, expectedVersion: $v) {
  __typename ... on Shipment { id trackingNumber } ... on ErrorResult { errorCode } } }`;
const PARTNER_CREATE = `mutation { partnerCreate(input: { name: "sneaky", scopes: [CATALOG_READ] }) { id } }`;
const SHOP_EVENTS = `subscription Shop { merchantOrderEvents { orderId type status } }`;
const ALL_DOCS = [PRODUCTS, ORDERS, ORDER, VIEWER, SHIP, TRACK, PARTNER_CREATE, SHOP_EVENTS];

let t: TestApp;
let admin: string;
let shopA: { id: string; token: string };
let shopB: { id: string; token: string };
let buyer: { token: string };

const sql = <T = any>(q: string, params: unknown[] = []) => sqlAll<T>(t.app.orm.em.fork() as any, q, params);

/** A PAID order of `shop` (the buyer pays from a balance topped up on the sandbox page). */
async function paidOrder(shop: { token: string }): Promise<string> {
  const p = await createProduct(t.gql, shop.token, { variants: [{ price: '20.00', onHand: 100 }] });
  const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
  const c = (await checkout(t.gql, buyer.token, cartId, hex())).data.checkoutCreate;
  const r = await t.gql(PAYMENT_START, { c: c.id, m: 'BALANCE', k: hex() }, buyer.token);
  expect(r.data.paymentStart).toMatchObject({ status: 'SUCCEEDED' });
  return c.orders[0].id;
}

/** A partner of `shop` with these scopes, every test document registered, and one key. */
async function partnerWith(scopes: string[], shop = shopA) {
  const id = await createPartner(t.gql, shop.token, scopes);
  await register(t.gql, shop.token, id, ALL_DOCS);
  return { partnerId: id, ...(await createKey(t.gql, shop.token, id)) };
}

beforeAll(async () => {
  t = await startTestApp({ SHIPPING_FEE: '0' });
  admin = await adminToken(t.gql);
  shopA = await createMerchant(t.gql, admin);
  shopB = await createMerchant(t.gql, admin);
  const b = await signUpCustomer(t.gql);
  const top = await t.gql(
    `mutation($k: String!) { accountTopUp(amount: "500.00", idempotencyKey: $k) { ... on Payment { redirectUrl } } }`,
    { k: hex() },
    b.token,
  );
  await completeOnProviderPage(top.data.accountTopUp.redirectUrl);
  await eventually(
    async () =>
      (await t.gql(`{ viewer { account { balance { amount } } } }`, {}, b.token)).data.viewer.account.balance
        .amount === '500.00',
  );
  buyer = b;
});
afterAll(() => t?.stop());

describe('who creates partners', () => {
  test('a merchant creates partners of its own shop; an admin names the shop; others are refused', async () => {
    const own = await t.gql(
      `mutation { partnerCreate(input: { name: "ERP", scopes: [ORDERS_READ, ORDERS_READ] }) { id name scopes merchant { id } } }`,
      {},
      shopA.token,
    );
    expect(own.data.partnerCreate).toMatchObject({
      name: 'ERP',
      scopes: ['ORDERS_READ'],
      merchant: { id: shopA.id },
    });

    const other = await t.gql(
      `mutation($m: ID) { partnerCreate(input: { name: "x", merchantId: $m, scopes: [ORDERS_READ] }) { id } }`,
      { m: shopB.id },
      shopA.token,
    );
    expect(codeOf(other)).toBe('FORBIDDEN');

    const byAdmin = await t.gql(
      `mutation($m: ID) { partnerCreate(input: { name: "WMS", merchantId: $m, scopes: [FULFILLMENT_WRITE] }) { merchant { id } } }`,
      { m: shopB.id },
      admin,
    );
    expect(byAdmin.data.partnerCreate.merchant.id).toBe(shopB.id);
    const noShop = await t.gql(
      `mutation { partnerCreate(input: { name: "x", scopes: [WEBHOOKS] }) { id } }`,
      {},
      admin,
    );
    expect(codeOf(noShop)).toBe('BAD_USER_INPUT');
    const noScope = await t.gql(
      `mutation { partnerCreate(input: { name: "x", scopes: [] }) { id } }`,
      {},
      shopA.token,
    );
    expect(codeOf(noScope)).toBe('BAD_USER_INPUT');

    const customer = await signUpCustomer(t.gql);
    const refused = await t.gql(
      `mutation { partnerCreate(input: { name: "x", scopes: [WEBHOOKS] }) { id } }`,
      {},
      customer.token,
    );
    expect(codeOf(refused)).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(`{ partners { id } }`, {}, customer.token))).toBe('FORBIDDEN');

    // Merchants list their own partners; admins every partner.
    const mine = (await t.gql(`{ partners { merchant { id } } }`, {}, shopA.token)).data.partners;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((p: any) => p.merchant.id === shopA.id)).toBe(true);
    const all = (await t.gql(`{ partners { merchant { id } } }`, {}, admin)).data.partners;
    expect(new Set(all.map((p: any) => p.merchant.id))).toEqual(new Set([shopA.id, shopB.id]));
  });
});

describe('API keys', () => {
  test('life cycle: shown once, stored as a hash, used, rotated with two live keys, revoked → 401', async () => {
    const partnerId = await createPartner(t.gql, shopA.token, ['CATALOG_READ']);
    await register(t.gql, shopA.token, partnerId, [PRODUCTS]);
    const k1 = await createKey(t.gql, shopA.token, partnerId);
    expect(k1.secret).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(k1.prefix).toBe(k1.secret.slice(0, 11));
    // Only the SHA-256 of the secret is stored.
    const [row] = await sql(`select * from api_key where id = $1`, [k1.id]);
    expect(row.secret_hash).toBe(createHash('sha256').update(k1.secret).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(k1.secret.slice(11));

    expect((await runDocument(t.url, k1.secret, PRODUCTS)).data.products).toBeDefined();

    // Rotation: a second key works alongside the first; then the first is revoked.
    const k2 = await createKey(t.gql, shopA.token, partnerId);
    expect(k2.secret).not.toBe(k1.secret);
    expect((await runDocument(t.url, k2.secret, PRODUCTS)).status).toBe(200);
    expect((await runDocument(t.url, k1.secret, PRODUCTS)).status).toBe(200);
    const revoked = await t.gql(
      `mutation($id: ID!) { apiKeyRevoke(id: $id) { id revokedAt } }`,
      { id: k1.id },
      shopA.token,
    );
    expect(revoked.data.apiKeyRevoke.revokedAt).toBeTruthy();
    const after = await runDocument(t.url, k1.secret, PRODUCTS);
    expect(after.status).toBe(401);
    expect(codeOf(after)).toBe('UNAUTHENTICATED');
    expect((await runDocument(t.url, k2.secret, PRODUCTS)).data.products).toBeDefined();
    // Revoking again keeps the first time.
    const again = await t.gql(
      `mutation($id: ID!) { apiKeyRevoke(id: $id) { revokedAt } }`,
      { id: k1.id },
      shopA.token,
    );
    expect(again.data.apiKeyRevoke.revokedAt).toBe(revoked.data.apiKeyRevoke.revokedAt);

    // Another shop can neither see nor revoke the keys.
    const foreign = await t.gql(
      `mutation($id: ID!) { apiKeyRevoke(id: $id) { id } }`,
      { id: k2.id },
      shopB.token,
    );
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    const foreignKey = await t.gql(
      `mutation($p: ID!) { apiKeyCreate(partnerId: $p) { secret } }`,
      { p: partnerId },
      shopB.token,
    );
    expect(codeOf(foreignKey)).toBe('NOT_FOUND');

    // Unknown and malformed keys: 401, also over GET.
    const unknown = `sk_${randomBytes(32).toString('base64url')}`;
    for (const secret of [unknown, 'sk_short', `${k2.secret}x`]) {
      const r = await runDocument(t.url, secret, PRODUCTS);
      expect([r.status, codeOf(r)]).toEqual([401, 'UNAUTHENTICATED']);
    }
    const g = await get(t.url, { documentId: docId(PRODUCTS) }, k1.secret);
    expect([g.status, codeOf(g)]).toEqual([401, 'UNAUTHENTICATED']);

    const listed = (
      await t.gql(`{ partners { id apiKeys { id prefix lastUsedAt revokedAt } } }`, {}, shopA.token)
    ).data.partners.find((p: any) => p.id === partnerId);
    expect(listed.apiKeys.map((k: any) => [k.id, k.prefix, !!k.revokedAt])).toEqual([
      [k1.id, k1.prefix, true],
      [k2.id, k2.prefix, false],
    ]);
    expect(listed.apiKeys.every((k: any) => k.lastUsedAt)).toBe(true);
  });

  test('lastUsedAt is written at most once a minute', async () => {
    const p = await partnerWith(['CATALOG_READ']);
    const lastUsed = async () =>
      (await sql(`select last_used_at from api_key where id = $1`, [p.id]))[0].last_used_at;
    expect(await lastUsed()).toBeNull();
    await runDocument(t.url, p.secret, PRODUCTS);
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    await runDocument(t.url, p.secret, PRODUCTS);
    expect((await lastUsed()).getTime()).toBe(first.getTime());
    // Older than a minute: the next use refreshes it.
    await sql(`update api_key set last_used_at = now() - interval '61 seconds' where id = $1`, [p.id]);
    await runDocument(t.url, p.secret, PRODUCTS);
    expect(Date.now() - (await lastUsed()).getTime()).toBeLessThan(30_000);
  });
});

describe('registered documents only', () => {
  test('registration is all or nothing and names the bad document', async () => {
    const partnerId = await createPartner(t.gql, shopA.token, ['CATALOG_READ']);
    const good = `query A { products(first: 1) { edges { node { id } } } }`;
    const unknownField = `query B { products(first: 1) { edges { node { nope } } } }`;
    const broken = `query C { products(first: 1) { `;
    const documents = (list: string[]) => list.map((body) => ({ id: docId(body), body }));
    for (const [bad, why] of [
      [unknownField, /validate/],
      [broken, /parse/],
    ] as const) {
      const r = await t.gql(REGISTER, { p: partnerId, d: documents([good, bad]) }, shopA.token);
      expect(r.data.persistedDocumentsRegister).toMatchObject({
        __typename: 'UserError',
        errorCode: 'PERSISTED_DOCUMENT_INVALID',
        field: docId(bad),
      });
      expect(r.data.persistedDocumentsRegister.message).toMatch(why);
      expect(r.data.persistedDocumentsRegister.message).toContain(docId(bad));
    }
    const mismatch = await t.gql(
      REGISTER,
      { p: partnerId, d: [...documents([good]), { id: docId(good + ' '), body: good }] },
      shopA.token,
    );
    expect(mismatch.data.persistedDocumentsRegister).toMatchObject({
      errorCode: 'PERSISTED_DOCUMENT_INVALID',
      field: docId(good + ' '),
    });
    // Nothing was stored by the failed calls.
    const [{ n }] = await sql(`select count(*)::int as n from persisted_document where partner_id = $1`, [
      partnerId,
    ]);
    expect(n).toBe(0);

    expect(await register(t.gql, shopA.token, partnerId, [good, PRODUCTS])).toEqual({
      registered: 2,
      unchanged: 0,
    });
    expect(await register(t.gql, shopA.token, partnerId, [good, PRODUCTS, ORDERS])).toEqual({
      registered: 1,
      unchanged: 2,
    });
    const docs = (
      await t.gql(`{ partners { id documents { id operationName } } }`, {}, shopA.token)
    ).data.partners.find((p: any) => p.id === partnerId).documents;
    expect(docs.map((d: any) => d.operationName).sort()).toEqual(['A', 'Orders', 'Products']);
  });

  test('a partner runs its documents by documentId (POST and GET) or APQ hash; anything else is refused', async () => {
    const p = await partnerWith(['CATALOG_READ']);
    const byPost = await runDocument(t.url, p.secret, PRODUCTS);
    expect(byPost.errors).toBeUndefined();
    const byGet = await get(t.url, { documentId: docId(PRODUCTS), operationName: 'Products' }, p.secret);
    expect(byGet.errors).toBeUndefined();
    expect(byGet.data).toEqual(byPost.data);
    for (const sha256Hash of [hexOf(PRODUCTS), docId(PRODUCTS)]) {
      const apq = await post(t.url, { extensions: { persistedQuery: { version: 1, sha256Hash } } }, p.secret);
      expect(apq.data).toEqual(byPost.data);
    }

    // Ad hoc: the text alone, or the text of an unregistered document with its hash.
    const adHoc = `query { products(first: 1) { edges { node { id } } } }`;
    for (const body of [
      { query: PRODUCTS },
      { query: adHoc, extensions: { persistedQuery: { version: 1, sha256Hash: hexOf(adHoc) } } },
      { query: adHoc, documentId: docId(adHoc) },
    ]) {
      const r = await post(t.url, body, p.secret);
      expect([r.status, codeOf(r)]).toEqual([400, 'PERSISTED_QUERY_REQUIRED']);
      expect(r.data).toBeUndefined();
    }
    const getAdHoc = await get(t.url, { query: PRODUCTS }, p.secret);
    expect([getAdHoc.status, codeOf(getAdHoc)]).toEqual([400, 'PERSISTED_QUERY_REQUIRED']);
    // Another partner's document is unknown to this one.
    const other = await createPartner(t.gql, shopA.token, ['CATALOG_READ']);
    await register(t.gql, shopA.token, other, [adHoc]);
    expect(codeOf(await post(t.url, { documentId: docId(adHoc) }, p.secret))).toBe(
      'PERSISTED_QUERY_NOT_FOUND',
    );
    // A registered id with a text that is not its document: 400, never a 500.
    const mismatch = await post(t.url, { documentId: docId(PRODUCTS), query: adHoc }, p.secret);
    expect([mismatch.status, codeOf(mismatch)]).toEqual([400, 'BAD_REQUEST']);
  });
});

describe('scopes', () => {
  test('each partner path needs its scope; everything else is FORBIDDEN', async () => {
    const catalog = await partnerWith(['CATALOG_READ']);
    const orders = await partnerWith(['ORDERS_READ']);
    const fulfil = await partnerWith(['FULFILLMENT_WRITE']);
    const orderId = await paidOrder(shopA);

    const forbidden = async (secret: string, text: string, variables: Record<string, unknown> = {}) => {
      const r = await runDocument(t.url, secret, text, variables);
      expect([r.status, codeOf(r)]).toEqual([403, 'FORBIDDEN']);
      expect(r.data).toBeUndefined();
    };
    // CATALOG_READ
    expect((await runDocument(t.url, catalog.secret, PRODUCTS)).errors).toBeUndefined();
    await forbidden(orders.secret, PRODUCTS);
    await forbidden(fulfil.secret, PRODUCTS);
    // ORDERS_READ
    const o = await runDocument(t.url, orders.secret, ORDER, { id: orderId });
    expect(o.data.order).toEqual({ id: orderId, status: 'PAID' });
    await forbidden(catalog.secret, ORDER, { id: orderId });
    await forbidden(catalog.secret, ORDERS);
    await forbidden(fulfil.secret, ORDERS);
    // FULFILLMENT_WRITE
    await forbidden(orders.secret, SHIP, { o: orderId, t: `1Z${hex()}` });
    const shipped = await runDocument(t.url, fulfil.secret, SHIP, { o: orderId, t: `1Z${hex()}` });
    expect(shipped.data.orderShip.__typename).toBe('Shipment');
    const s = shipped.data.orderShip;
    await forbidden(catalog.secret, TRACK, { s: s.id, t: `1Z${hex()}`, v: s.version });
    const tracked = await runDocument(t.url, fulfil.secret, TRACK, {
      s: s.id,
      t: `1Z${hex()}`,
      v: s.version,
    });
    expect(tracked.data.shipmentTrackingUpdate.__typename).toBe('Shipment');
    // Outside every scope, even with all of them.
    const all = await partnerWith(['CATALOG_READ', 'ORDERS_READ', 'FULFILLMENT_WRITE', 'WEBHOOKS']);
    await forbidden(all.secret, VIEWER);
    await forbidden(all.secret, PARTNER_CREATE);
    const [{ n }] = await sql(`select count(*)::int as n from partner where name = 'sneaky'`);
    expect(n).toBe(0);
  });

  test("a partner never reaches another merchant's orders", async () => {
    const partner = await partnerWith(['ORDERS_READ', 'FULFILLMENT_WRITE']);
    const mine = await paidOrder(shopA);
    const theirs = await paidOrder(shopB);
    const list = (await runDocument(t.url, partner.secret, ORDERS)).data.orders.edges.map((e: any) => e.node);
    expect(list.map((o: any) => o.id)).toContain(mine);
    expect(list.every((o: any) => o.merchant.id === shopA.id)).toBe(true);
    expect((await runDocument(t.url, partner.secret, ORDER, { id: theirs })).data.order).toBeNull();
    const ship = await runDocument(t.url, partner.secret, SHIP, { o: theirs, t: `1Z${hex()}` });
    expect(ship.data?.orderShip?.__typename).not.toBe('Shipment');
    const [order] = await sql(`select status from shop_order where id = $1`, [theirs]);
    expect(order.status).toBe('PAID');
    // The merchant owner's own purchases (as a buyer) are not the partner's either.
    expect(list.some((o: any) => o.id === theirs)).toBe(false);
  });

  test('over graphql-ws too: registered subscriptions within scope only', async () => {
    const partner = await partnerWith(['ORDERS_READ']);
    const catalogOnly = await partnerWith(['CATALOG_READ']);
    const ws = wsClient(t.url, partner.secret);
    const wsCatalog = wsClient(t.url, catalogOnly.secret);
    /** Subscribes by APQ hash (graphql-ws carries `extensions` like a POST body). */
    const byHash = (client: typeof ws, text: string) => {
      const events: any[] = [];
      const errors: any[] = [];
      let done!: () => void;
      const ended = new Promise<void>((r) => (done = r));
      const stop = client.subscribe(
        { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: hexOf(text) } } },
        {
          next: (v) => (v.data ? events.push(v.data) : errors.push(v.errors)),
          error: (e) => (errors.push(e), done()),
          complete: done,
        },
      );
      return { events, errors, ended, stop };
    };
    try {
      const adHoc = subscribe(ws, `subscription { merchantOrderEvents { orderId } }`);
      await adHoc.ended;
      expect(JSON.stringify(adHoc.errors)).toContain('PERSISTED_QUERY_REQUIRED');
      const outOfScope = byHash(wsCatalog, SHOP_EVENTS);
      await outOfScope.ended;
      expect(JSON.stringify(outOfScope.errors)).toContain('FORBIDDEN');

      const live = byHash(ws, SHOP_EVENTS);
      await new Promise((r) => setTimeout(r, 300));
      const orderId = await paidOrder(shopA);
      await eventually(async () => live.events.some((e) => e.merchantOrderEvents.orderId === orderId));
      expect(live.errors).toEqual([]);
      live.stop();
    } finally {
      await ws.dispose();
      await wsCatalog.dispose();
    }
  });
});

describe('examples/partner', () => {
  test('the example script registers its documents and reads the shop’s orders with its key', async () => {
    const partnerId = await createPartner(t.gql, shopA.token, ['ORDERS_READ', 'FULFILLMENT_WRITE']);
    const orderId = await paidOrder(shopA);
    const script = join(__dirname, '../../examples/partner/partner.mjs');
    const run = (args: string[], env: Record<string, string>) =>
      promisify(execFile)(process.execPath, [script, ...args], {
        env: { ...process.env, API_URL: t.url, ...env },
      });
    const registered = await run(['register'], { MERCHANT_TOKEN: shopA.token, PARTNER_ID: partnerId });
    expect(JSON.parse(registered.stdout)).toEqual({ registered: 3, unchanged: 0 });
    const { secret } = await createKey(t.gql, shopA.token, partnerId);
    const orders = JSON.parse((await run(['orders'], { PARTNER_KEY: secret })).stdout);
    expect(orders.orders.map((o: any) => o.id)).toContain(orderId);
    // Listing partners costs the same few statements however many partners, keys and documents.
    const listed = await t.gql(
      `{ partners { id merchant { name } apiKeys { id } documents { id } } }`,
      {},
      admin,
    );
    expect(listed.data.partners.length).toBeGreaterThan(10);
    expect(listed.extensions?.sqlStatements).toBeLessThanOrEqual(4);
    // The same key cannot run anything the script did not register.
    expect(codeOf(await post(t.url, { query: ORDERS }, secret))).toBe('PERSISTED_QUERY_REQUIRED');
  });
});
