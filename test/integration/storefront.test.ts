import { randomBytes } from 'node:crypto';
import { sqlAll } from '../../src/db/sql';
import { carrierEvent, postCarrierEvent } from '../../src/sandbox/carrier';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { checkout, createCart } from '../factories/shop';
import { codeOf } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';
import { subscribe, wsClient } from '../support/ws';
import { Client } from 'pg';
import { connectOrm } from '../../src/db/orm';
import { entities } from '../../src/modules/entities';
import { withDatabase } from '../support/db';

/**
 * Storefront conventions: slugs, media and SEO, lookups by slug, category facet names, the
 * shopper's return after a card payment, and shipment events that replay as they were.
 */

const hex = () => randomBytes(6).toString('hex');
let t: TestApp;
let admin: string;
let shop: { id: string; token: string };

beforeAll(async () => {
  t = await startTestApp({
    STOREFRONT_ORIGINS: 'https://shop.example.com, http://localhost:5173, myapp://',
    SHIPPING_FEE: '0',
  });
  admin = await adminToken(t.gql);
  shop = await createMerchant(t.gql, admin, 'Slug Shop');
});
afterAll(() => t?.stop());

const sql = <T = any>(q: string, params: unknown[] = []) => sqlAll<T>(t.app.orm.em.fork() as any, q, params);

const FIELDS = `id title slug media { url alt width height } seo { title description }`;
const CREATE = `mutation($i: ProductCreateInput!) { productCreate(input: $i) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { ${FIELDS} } }`;
const BY_SLUG = `query($s: String) { product(slug: $s) { ${FIELDS} variants { sku } } }`;
const BY_BOTH = `query($id: ID, $s: String) { product(id: $id, slug: $s) { id } }`;

let skuN = 0;
const input = (over: Record<string, unknown> = {}) => ({
  title: 'Plain Tee',
  description: 'A plain cotton tee.',
  variants: [{ sku: `ST-${++skuN}-${hex()}`, title: 'Default', price: '10.00', onHand: 5, attributes: [] }],
  ...over,
});
const category = async (name: string, slug: string, parentId?: string): Promise<string> => {
  const r = await t.gql(
    `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id } }`,
    { i: { name, slug, parentId } },
    admin,
  );
  expect(r.errors).toBeUndefined();
  return r.data.categoryCreate.id;
};
const create = async (over: Record<string, unknown> = {}) => {
  const r = await t.gql(CREATE, { i: input(over) }, shop.token);
  expect(r.errors).toBeUndefined();
  return r.data.productCreate;
};

describe('slugs', () => {
  test('generated from the title: accents dropped, URL-safe; repeats get -2, -3; a given slug is kept', async () => {
    const a = await create({ title: 'Crème Brûlée Mug — 350 ml!' });
    expect(a.slug).toBe('creme-brulee-mug-350-ml');
    const b = await create({ title: 'Crème brûlée mug 350 ML' });
    const c = await create({ title: 'creme brulee MUG 350ml' });
    expect(b.slug).toBe('creme-brulee-mug-350-ml-2');
    expect(c.slug).toBe('creme-brulee-mug-350ml');
    const d = await create({ title: 'Crème Brûlée Mug 350 ml' });
    expect(d.slug).toBe('creme-brulee-mug-350-ml-3');
    const given = await create({ title: 'Anything', slug: 'my-own-slug' });
    expect(given.slug).toBe('my-own-slug');
    const symbols = await create({ title: '!!!' });
    expect(symbols.slug).toMatch(/^product(-\d+)?$/);
  });

  test('a taken or malformed slug is BAD_USER_INPUT and writes nothing', async () => {
    await create({ title: 'First', slug: 'taken-slug' });
    const before = (await sql('select count(*)::int as n from product'))[0].n;
    const taken = await t.gql(CREATE, { i: input({ slug: 'taken-slug' }) }, shop.token);
    expect(codeOf(taken)).toBe('BAD_USER_INPUT');
    expect(taken.errors![0].message).toContain('taken-slug');
    for (const bad of ['Upper-Case', 'two--dashes', '-lead', 'white space', 'ünï', 'x'.repeat(101)]) {
      expect(codeOf(await t.gql(CREATE, { i: input({ slug: bad }) }, shop.token))).toBe('BAD_USER_INPUT');
    }
    expect((await sql('select count(*)::int as n from product'))[0].n).toBe(before);
    const other = await create({ title: 'Second' });
    expect(codeOf(await t.gql(UPDATE, { id: other.id, i: { slug: 'taken-slug' } }, shop.token))).toBe(
      'BAD_USER_INPUT',
    );
    expect((await sql('select slug from product where id = $1', [other.id]))[0].slug).toBe(other.slug);
  });

  test('stable across title changes; changes only when set again; lookups follow', async () => {
    const p = await create({ title: 'Wool Scarf' });
    expect(p.slug).toBe('wool-scarf');
    const renamed = await t.gql(UPDATE, { id: p.id, i: { title: 'Merino Wool Scarf' } }, shop.token);
    expect(renamed.data.productUpdate).toMatchObject({ title: 'Merino Wool Scarf', slug: 'wool-scarf' });
    expect((await t.gql(BY_SLUG, { s: 'wool-scarf' })).data.product.id).toBe(p.id);

    const reset = await t.gql(UPDATE, { id: p.id, i: { slug: 'merino-wool-scarf' } }, shop.token);
    expect(reset.data.productUpdate.slug).toBe('merino-wool-scarf');
    expect((await t.gql(BY_SLUG, { s: 'merino-wool-scarf' })).data.product).toMatchObject({
      id: p.id,
      title: 'Merino Wool Scarf',
    });
    expect((await t.gql(BY_SLUG, { s: 'wool-scarf' })).data.product).toBeNull();
  });

  test('product(id:, slug:): exactly one of them, else BAD_USER_INPUT; unknown or malformed slugs are null', async () => {
    const p = await create({ title: 'Lookup Lamp' });
    expect((await t.gql(BY_BOTH, { id: p.id })).data.product.id).toBe(p.id);
    expect((await t.gql(BY_BOTH, { s: p.slug })).data.product.id).toBe(p.id);
    expect(codeOf(await t.gql(BY_BOTH, { id: p.id, s: p.slug }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(BY_BOTH, {}))).toBe('BAD_USER_INPUT');
    expect((await t.gql(BY_BOTH, { s: 'no-such-product' })).data.product).toBeNull();
    expect((await t.gql(BY_BOTH, { s: 'Not A Slug!' })).data.product).toBeNull();
  });

  test('rows inserted without a slug by any write path (one bulk statement with repeats) get unique ones', async () => {
    await sql(
      `insert into product (merchant_id, title, description)
       select $1, 'Bulk Bottle', 'bulk' from generate_series(1, 5)`,
      [shop.id],
    );
    const rows = await sql<{ slug: string }>(
      `select slug from product where title = 'Bulk Bottle' order by id`,
    );
    expect(rows.map((r) => r.slug)).toEqual([
      'bulk-bottle',
      'bulk-bottle-2',
      'bulk-bottle-3',
      'bulk-bottle-4',
      'bulk-bottle-5',
    ]);
  });

  test('concurrent creates of one title all succeed with distinct slugs', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => t.gql(CREATE, { i: input({ title: 'Race Runner' }) }, shop.token)),
    );
    results.forEach((r) => expect(r.errors).toBeUndefined());
    const slugs = results.map((r) => r.data.productCreate.slug).sort();
    expect(new Set(slugs).size).toBe(8);
    expect(slugs).toContain('race-runner');
  });
});

describe('media and SEO', () => {
  test('stored at create, replaced at update; SEO defaults from title and description', async () => {
    const long = `${'Soft and warm. '.repeat(20)}End.`;
    const p = await create({
      title: 'Alpaca Beanie',
      description: long,
      media: [
        { url: 'https://cdn.example.com/beanie/1.jpg', alt: 'Front', width: 1200, height: 800 },
        { url: 'https://cdn.example.com/beanie/2.jpg' },
      ],
    });
    expect(p.media).toEqual([
      { url: 'https://cdn.example.com/beanie/1.jpg', alt: 'Front', width: 1200, height: 800 },
      { url: 'https://cdn.example.com/beanie/2.jpg', alt: null, width: null, height: null },
    ]);
    expect(p.seo.title).toBe('Alpaca Beanie');
    expect(p.seo.description.length).toBeLessThanOrEqual(160);
    expect(p.seo.description).toMatch(/^Soft and warm\. Soft and warm\..*…$/);

    const u = await t.gql(
      UPDATE,
      {
        id: p.id,
        i: {
          media: [{ url: 'https://cdn.example.com/beanie/3.jpg', alt: 'Side', width: 600, height: 600 }],
          seo: { title: 'Alpaca Beanie | Slug Shop', description: 'The warmest beanie.' },
        },
      },
      shop.token,
    );
    expect(u.errors).toBeUndefined();
    const read = (await t.gql(BY_SLUG, { s: p.slug })).data.product;
    expect(read.media).toEqual([
      { url: 'https://cdn.example.com/beanie/3.jpg', alt: 'Side', width: 600, height: 600 },
    ]);
    expect(read.seo).toEqual({ title: 'Alpaca Beanie | Slug Shop', description: 'The warmest beanie.' });
  });

  test('bad media is BAD_USER_INPUT', async () => {
    for (const media of [
      [{ url: 'javascript:alert(1)' }],
      [{ url: 'https://cdn.example.com/a.jpg', width: 0 }],
      [{ url: 'https://cdn.example.com/a.jpg', height: -3 }],
    ]) {
      expect(codeOf(await t.gql(CREATE, { i: input({ media }) }, shop.token))).toBe('BAD_USER_INPUT');
    }
  });
});

describe('categories by slug and facet names', () => {
  test('category(id:, slug:) finds one; both or neither is BAD_USER_INPUT', async () => {
    const root = await category('Kitchen', 'kitchen');
    const child = await category('Mugs & Cups', 'mugs', root);
    const Q = `query($id: ID, $s: String) { category(id: $id, slug: $s) { id name slug parent { slug } } }`;
    expect((await t.gql(Q, { s: 'mugs' })).data.category).toEqual({
      id: child,
      name: 'Mugs & Cups',
      slug: 'mugs',
      parent: { slug: 'kitchen' },
    });
    expect((await t.gql(Q, { id: root })).data.category.slug).toBe('kitchen');
    expect((await t.gql(Q, { s: 'nope' })).data.category).toBeNull();
    expect(codeOf(await t.gql(Q, { id: root, s: 'kitchen' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(Q, {}))).toBe('BAD_USER_INPUT');
  });

  test('the category facet names its values, in the same two statements as before', async () => {
    const cat = await category('Facet Teapots', 'facet-teapots');
    await createProduct(t.gql, shop.token, { title: 'Zyxfacet Teapot', categoryId: cat });
    await createProduct(t.gql, shop.token, { title: 'Zyxfacet Kettle', categoryId: cat });
    const r = await t.gql(
      `{ products(filter: { query: "zyxfacet" }) { totalCount edges { node { id } } facets { name values { value label count } } } }`,
    );
    expect(r.errors).toBeUndefined();
    const catFacet = r.data.products.facets.find((f: any) => f.name === 'category');
    expect(catFacet.values).toEqual([{ value: cat, label: 'Facet Teapots', count: 2 }]);
    const price = r.data.products.facets.find((f: any) => f.name === 'price');
    expect(price.values).toEqual([{ value: '0-25', label: '0-25', count: 2 }]);
    expect(r.extensions?.sqlStatements).toBeLessThanOrEqual(4);
  });
});

describe('paymentStart(returnUrl:)', () => {
  async function unpaid() {
    const buyer = await signUpCustomer(t.gql);
    const p = await createProduct(t.gql, shop.token, { variants: [{ price: '12.00', onHand: 100 }] });
    const cart = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
    const c = (await checkout(t.gql, buyer.token, cart, hex())).data.checkoutCreate;
    expect(c.__typename).toBe('Checkout');
    return { buyer, checkoutId: c.id as string, orderId: c.orders[0].id as string };
  }
  const START = `mutation($c: ID!, $k: String!, $r: String) { paymentStart(checkoutId: $c, method: CARD, idempotencyKey: $k, returnUrl: $r) {
    __typename ... on Payment { id status redirectUrl } ... on ErrorResult { errorCode message } } }`;

  test('an allowed web origin: the provider page sends the shopper back there with the outcome', async () => {
    const { buyer, checkoutId, orderId } = await unpaid();
    const r = await t.gql(
      START,
      { c: checkoutId, k: hex(), r: 'https://shop.example.com/checkout/done?step=3' },
      buyer.token,
    );
    expect(r.data.paymentStart.__typename).toBe('Payment');
    const payment = r.data.paymentStart;
    const res = await fetch(payment.redirectUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=pay',
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    const back = new URL(res.headers.get('location')!);
    expect(back.origin + back.pathname).toBe('https://shop.example.com/checkout/done');
    expect(back.searchParams.get('step')).toBe('3');
    expect(back.searchParams.get('status')).toBe('SUCCEEDED');
    expect(back.searchParams.get('reference')).toBe(payment.id);
    expect(back.searchParams.get('payment')).toBeTruthy();
    await eventually(
      async () =>
        (await t.gql(`query($id: ID!) { order(id: $id) { status } }`, { id: orderId }, buyer.token)).data
          .order.status === 'PAID',
    );
  });

  test('an app link on a listed scheme is accepted and the shopper returns to the app', async () => {
    const { buyer, checkoutId } = await unpaid();
    const r = await t.gql(START, { c: checkoutId, k: hex(), r: 'myapp://orders/return' }, buyer.token);
    expect(r.data.paymentStart.__typename).toBe('Payment');
    const res = await fetch(r.data.paymentStart.redirectUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=decline',
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(
      new RegExp(`^myapp://orders/return\\?payment=[^&]+&status=FAILED&reference=${r.data.paymentStart.id}$`),
    );
  });

  test('unlisted origins, other schemes and credentials are BAD_USER_INPUT; nothing is started', async () => {
    const { buyer, checkoutId } = await unpaid();
    for (const bad of [
      'https://evil.example.com/return',
      'https://shop.example.com.evil.com/return',
      'http://shop.example.com/return', // scheme is part of the origin
      'https://shop.example.com:8443/return',
      'http://localhost:5174/',
      'javascript:alert(1)',
      'data:text/html,hi',
      'otherapp://x',
      'https://user:pw@shop.example.com/',
      '/relative/path',
      `https://shop.example.com/${'x'.repeat(2000)}`,
    ]) {
      const r = await t.gql(START, { c: checkoutId, k: hex(), r: bad }, buyer.token);
      expect({ bad, code: codeOf(r) }).toEqual({ bad, code: 'BAD_USER_INPUT' });
    }
    expect(
      (await sql('select count(*)::int as n from payment where checkout_id = $1', [checkoutId]))[0].n,
    ).toBe(0);
    // Without returnUrl the provider sends the shopper to this server's own page, as before.
    const plain = await t.gql(PAYMENT_START, { c: checkoutId, m: 'CARD', k: hex() }, buyer.token);
    expect(plain.data.paymentStart.__typename).toBe('Payment');
    const res = await fetch(plain.data.paymentStart.redirectUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=pay',
      redirect: 'manual',
    });
    expect(new URL(res.headers.get('location')!).pathname).toBe('/payments/return');
  });

  test('the same key with another returnUrl is a different request: IDEMPOTENCY_KEY_REUSED', async () => {
    const { buyer, checkoutId } = await unpaid();
    const k = hex();
    const a = await t.gql(START, { c: checkoutId, k, r: 'http://localhost:5173/a' }, buyer.token);
    const again = await t.gql(START, { c: checkoutId, k, r: 'http://localhost:5173/a' }, buyer.token);
    expect(again.data.paymentStart.id).toBe(a.data.paymentStart.id);
    const other = await t.gql(START, { c: checkoutId, k, r: 'http://localhost:5173/b' }, buyer.token);
    expect(other.data.paymentStart.errorCode).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});

describe('SHIPMENT_UPDATED events keep the shipment as it was', () => {
  test('history and a replayed subscription show each event’s state; a live subscriber sees the same', async () => {
    const buyer = await signUpCustomer(t.gql);
    const p = await createProduct(t.gql, shop.token, { variants: [{ price: '5.00', onHand: 10 }] });
    const cart = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
    const c = (await checkout(t.gql, buyer.token, cart, hex())).data.checkoutCreate;
    const orderId = c.orders[0].id;
    const pay = await t.gql(PAYMENT_START, { c: c.id, m: 'CARD', k: hex() }, buyer.token);
    await completeOnProviderPage(pay.data.paymentStart.redirectUrl);
    await eventually(
      async () =>
        (await t.gql(`query($id: ID!) { order(id: $id) { status } }`, { id: orderId }, buyer.token)).data
          .order.status === 'PAID',
    );
    const EVENTS = `subscription($o: ID!, $a: ID) { orderEvents(orderId: $o, after: $a) {
      id type shipment { status trackingNumber version events { status location } } } }`;
    const ws = wsClient(t.url, buyer.token);
    const live = subscribe(ws, EVENTS, { o: orderId }, (d) => d.orderEvents);
    await new Promise((r) => setTimeout(r, 200));

    const tracking = `1Z${hex()}`;
    const ship = await t.gql(
      `mutation($o: ID!, $t: String!) { orderShip(orderId: $o, carrier: "DHL", trackingNumber: $t) { __typename } }`,
      { o: orderId, t: tracking },
      shop.token,
    );
    expect(ship.data.orderShip.__typename).toBe('Shipment');
    const secret = 'test-logistics-secret-01234567';
    const at = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    for (const [status, location, ago] of [
      ['IN_TRANSIT', 'Leipzig', 30],
      ['OUT_FOR_DELIVERY', 'Berlin', 20],
      ['DELIVERED', 'Berlin', 10],
    ] as const) {
      const e = carrierEvent({
        carrier: 'DHL',
        trackingNumber: tracking,
        status,
        occurredAt: at(ago),
        location,
      });
      expect((await postCarrierEvent(t.url, e, { secret })).status).toBe(200);
    }
    const expected = [
      { status: 'LABEL_CREATED', version: 1, events: [] },
      { status: 'IN_TRANSIT', version: 2, events: [{ status: 'IN_TRANSIT', location: 'Leipzig' }] },
      {
        status: 'OUT_FOR_DELIVERY',
        version: 3,
        events: [
          { status: 'IN_TRANSIT', location: 'Leipzig' },
          { status: 'OUT_FOR_DELIVERY', location: 'Berlin' },
        ],
      },
      {
        status: 'DELIVERED',
        version: 4,
        events: [
          { status: 'IN_TRANSIT', location: 'Leipzig' },
          { status: 'OUT_FOR_DELIVERY', location: 'Berlin' },
          { status: 'DELIVERED', location: 'Berlin' },
        ],
      },
    ];
    const shipmentEvents = (list: any[]) =>
      list
        .filter((e) => e.type === 'SHIPMENT_UPDATED')
        .map((e) => ({ status: e.shipment.status, version: e.shipment.version, events: e.shipment.events }));

    // Live: each as it happened.
    await eventually(async () => shipmentEvents(live.events).length === 4);
    expect(shipmentEvents(live.events)).toEqual(expected);

    // Replay (after the shipment was delivered): still each as it was then, not DELIVERED four times.
    const all = (
      await t.gql(`query($id: ID!) { order(id: $id) { history { id type } } }`, { id: orderId }, buyer.token)
    ).data.order.history;
    const first = all[0].id;
    const replay = subscribe(ws, EVENTS, { o: orderId, a: first }, (d) => d.orderEvents);
    await replay.waitFor(all.length - 1);
    expect(shipmentEvents(replay.events)).toEqual(expected);

    const history = (
      await t.gql(
        `query($id: ID!) { order(id: $id) { history { type shipment { status version events { status location } } } } }`,
        { id: orderId },
        buyer.token,
      )
    ).data.order.history;
    expect(shipmentEvents(history)).toEqual(expected);
    live.stop();
    replay.stop();
    await ws.dispose();
  });
});

describe('the migration', () => {
  test('backfills unique slugs from titles (repeats numbered in id order) and media from images', async () => {
    const name = `t_mig_${hex()}`;
    const admin = new Client({ connectionString: process.env.TEST_PG_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const orm = await connectOrm({
      url: withDatabase(process.env.TEST_PG_URL!, name),
      entities,
      poolSize: 2,
    });
    try {
      await orm.getMigrator().up({ to: 'Migration20261130030000_order_completion' });
      const q = (text: string, params: unknown[] = []) => sqlAll<any>(orm.em.fork() as any, text, params);
      await q(`insert into merchant (name) values ('M')`);
      await q(
        `insert into product (merchant_id, title, description, images)
         select (select id from merchant), t, '', i::text[] from unnest($1::text[], $2::text[]) with ordinality u(t, i, n) order by n`,
        [
          ['Red Mug', 'red mug', 'Red Mug 2', 'Red  Mug!', '¡¡', 'Café Crème'],
          ['{https://img.example.com/1.jpg}', '{}', '{}', '{}', '{}', '{}'],
        ],
      );
      await orm.getMigrator().up();
      const rows = await q(`select id, title, slug, media from product order by id`);
      expect(rows.map((r: any) => r.slug)).toEqual([
        'red-mug',
        'red-mug-2',
        `red-mug-2-${rows[2].id}`, // "Red Mug 2" collides with the second "red mug"
        'red-mug-3',
        'product',
        'cafe-creme',
      ]);
      expect(rows[0].media).toEqual([{ url: 'https://img.example.com/1.jpg' }]);
      expect(rows[1].media).toEqual([]);
      // New rows keep going after the backfilled numbers.
      await q(`insert into product (merchant_id, title, description) select id, 'Red Mug', '' from merchant`);
      const [last] = await q(`select slug from product order by id desc limit 1`);
      expect(last.slug).toBe('red-mug-4');
    } finally {
      await orm.close();
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    }
  });
});
