import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { codeOf, type GqlResponse } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

/** Carts through the public API: access, lines, limits, stock, pricing, coupons, promotions, merge at sign-in, purge. */

const CART = `id itemCount updatedAt subtotal { amount currency } discount { amount } total { amount } coupon { code description }
  lines { id quantity unitPrice { amount } lineTotal { amount } variant { id } }`;
const RESULT = `__typename ... on Cart { ${CART} } ... on UserError { errorCode message field }
  ... on OutOfStockError { errorCode message variantId requested available }`;

const Q_CART = `query($id: ID) { cart(id: $id) { ${CART} } }`;
const M_CREATE = `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { ${RESULT} } }`;
const M_ADD = `mutation($c: ID!, $l: [CartLineInput!]!) { cartLinesAdd(cartId: $c, lines: $l) { ${RESULT} } }`;
const M_UPDATE = `mutation($c: ID!, $l: [CartLineUpdateInput!]!) { cartLinesUpdate(cartId: $c, lines: $l) { ${RESULT} } }`;
const M_REMOVE = `mutation($c: ID!, $ids: [ID!]!) { cartLinesRemove(cartId: $c, lineIds: $ids) { ${RESULT} } }`;
const M_COUPON = `mutation($c: ID!, $code: String!) { cartCouponApply(cartId: $c, code: $code) { ${RESULT} } }`;
const M_UNCOUPON = `mutation($c: ID!) { cartCouponRemove(cartId: $c) { ${RESULT} } }`;
const M_SIGN_IN = `mutation($e: String!, $p: String!, $c: ID) { signIn(email: $e, password: $p, cartId: $c) {
  __typename ... on AuthPayload { token viewer { id } cart { ${CART} } } ... on ErrorResult { errorCode message } } }`;
const M_COUPON_CREATE = `mutation($i: CouponCreateInput!) { couponCreate(input: $i) { code description } }`;
const M_PROMO_CREATE = `mutation($i: PromotionCreateInput!) { promotionCreate(input: $i) { id name active } }`;

const PASSWORD = 'password-123'; // what signUpCustomer uses
const CART_ID = /^[A-Za-z0-9_-]{22}$/;
const UNKNOWN_CART = 'AAAAAAAAAAAAAAAAAAAAAA';

type Line = [variantId: string, quantity: number, unitPrice: string, lineTotal: string];
interface Shape {
  itemCount: number;
  subtotal: string;
  discount: string;
  total: string;
  coupon: string | null;
  lines: Line[];
}

/** What a shopper sees of a cart, compactly: lines as [variantId, quantity, unitPrice, lineTotal]. */
const shape = (c: any): Shape | null =>
  c && {
    itemCount: c.itemCount,
    subtotal: c.subtotal.amount,
    discount: c.discount.amount,
    total: c.total.amount,
    coupon: c.coupon?.code ?? null,
    lines: c.lines.map((l: any) => [l.variant.id, l.quantity, l.unitPrice.amount, l.lineTotal.amount]),
  };

const cents = (amount: string) => Math.round(Number(amount) * 100);

/** One test app and the helpers bound to it. */
function harness(env: Record<string, string> = {}) {
  const h = {
    t: undefined as unknown as TestApp,
    admin: '',
    m1: { id: '', token: '' },
    m2: { id: '', token: '' },
    async start() {
      h.t = await startTestApp(env);
      h.admin = await adminToken(h.t.gql);
      h.m1 = await createMerchant(h.t.gql, h.admin);
      h.m2 = await createMerchant(h.t.gql, h.admin);
    },
    sql: async (q: string, params: unknown[] = []) =>
      (await h.t.app.orm.em.fork().getConnection().execute(q, params)) as any[],
    /** A new product with one variant; returns the variant id. */
    async variant(
      price = '10.00',
      onHand = 100,
      opts: { merchant?: { token: string }; collections?: string[] } = {},
    ) {
      const p = await createProduct(h.t.gql, (opts.merchant ?? h.m1).token, {
        collections: opts.collections,
        variants: [{ price, onHand }],
      });
      return p.variantIds[0];
    },
    gql: (q: string, v: Record<string, unknown> = {}, token?: string) => h.t.gql(q, v, token),
    /** The CartResult of a mutation, asserting the request itself raised no error. */
    async mutate(q: string, v: Record<string, unknown>, token?: string) {
      const r = await h.t.gql(q, v, token);
      expect(r.errors).toBeUndefined();
      return Object.values(r.data)[0] as any;
    },
    async create(lines: { variantId: string; quantity: number }[] | null, token?: string): Promise<any> {
      const c = await h.mutate(M_CREATE, { l: lines }, token);
      expect(c.__typename).toBe('Cart');
      return c;
    },
    async read(id: string | null, token?: string) {
      const r = await h.t.gql(Q_CART, { id }, token);
      expect(r.errors).toBeUndefined();
      return r.data.cart;
    },
    add: (cartId: string, lines: { variantId: string; quantity: number }[], token?: string) =>
      h.mutate(M_ADD, { c: cartId, l: lines }, token),
    update: (cartId: string, lines: { lineId: string; quantity: number }[], token?: string) =>
      h.mutate(M_UPDATE, { c: cartId, l: lines }, token),
    remove: (cartId: string, ids: string[], token?: string) => h.mutate(M_REMOVE, { c: cartId, ids }, token),
    applyCoupon: (cartId: string, code: string, token?: string) =>
      h.mutate(M_COUPON, { c: cartId, code }, token),
    async coupon(input: Record<string, unknown>) {
      const r = await h.t.gql(
        M_COUPON_CREATE,
        { i: { description: `${input.code} off`, ...input } },
        h.admin,
      );
      expect(r.errors).toBeUndefined();
      return r.data.couponCreate;
    },
    async signIn(email: string, cartId: string | null) {
      const r = await h.t.gql(M_SIGN_IN, { e: email, p: PASSWORD, c: cartId });
      expect(r.errors).toBeUndefined();
      expect(r.data.signIn.__typename).toBe('AuthPayload');
      return r.data.signIn;
    },
    async activeCarts(customerId: string) {
      return h.sql(`select id from cart where customer_id = ? and status = 'ACTIVE'`, [customerId]);
    },
    async cartRows() {
      const [{ n }] = await h.sql('select count(*)::int as n from cart');
      return n as number;
    },
  };
  return h;
}

// ---------------------------------------------------------------------------------------------
// Default limits (CART_MAX_LINE_QUANTITY 99, CART_MAX_LINES 100), no promotions.

describe('carts with default limits', () => {
  const h = harness();
  beforeAll(() => h.start());
  afterAll(() => h.t?.stop());

  describe('access', () => {
    test('an anonymous cartCreate without lines returns an empty cart with a 22-character id that anyone holding the id can read', async () => {
      const c = await h.create(null);
      expect(c.id).toMatch(CART_ID);
      expect(shape(c)).toEqual({
        itemCount: 0,
        subtotal: '0.00',
        discount: '0.00',
        total: '0.00',
        coupon: null,
        lines: [],
      });
      expect(c.subtotal.currency).toBe('USD');
      expect(shape(await h.read(c.id))).toEqual(shape(c));
      expect(await h.sql('select customer_id, status, coupon_code from cart where id = ?', [c.id])).toEqual([
        { customer_id: null, status: 'ACTIVE', coupon_code: null },
      ]);
      const other = await h.create([]);
      expect(other.id).toMatch(CART_ID);
      expect(other.id).not.toBe(c.id);
    });

    test('an anonymous cartCreate with lines prices them, and a signed-in customer may use the anonymous cart by its id', async () => {
      const a = await h.variant('12.34');
      const b = await h.variant('5.01');
      const c = await h.create([
        { variantId: a, quantity: 2 },
        { variantId: b, quantity: 1 },
      ]);
      expect(c.id).toMatch(CART_ID);
      const expected = {
        itemCount: 3,
        subtotal: '29.69',
        discount: '0.00',
        total: '29.69',
        coupon: null,
        lines: [
          [a, 2, '12.34', '24.68'],
          [b, 1, '5.01', '5.01'],
        ],
      };
      expect(shape(c)).toEqual(expected);
      expect(shape(await h.read(c.id))).toEqual(expected);

      const customer = await signUpCustomer(h.t.gql);
      expect(shape(await h.read(c.id, customer.token))).toEqual(expected);
      const added = await h.add(c.id, [{ variantId: b, quantity: 1 }], customer.token);
      expect(shape(added)).toEqual({
        ...expected,
        itemCount: 4,
        subtotal: '34.70',
        total: '34.70',
        lines: [
          [a, 2, '12.34', '24.68'],
          [b, 2, '5.01', '10.02'],
        ],
      });
      // it stays an anonymous cart: still readable without signing in, and not the customer's cart
      expect(shape(await h.read(c.id))).toEqual(shape(added));
      expect(await h.read(null, customer.token)).toBeNull();
      expect(await h.sql('select customer_id from cart where id = ?', [c.id])).toEqual([
        { customer_id: null },
      ]);
    });

    test("a customer's cartCreate returns their one active cart, where lines accumulate; nobody else can read it", async () => {
      const a = await h.variant('3.00');
      const b = await h.variant('4.50');
      const owner = await signUpCustomer(h.t.gql);
      const other = await signUpCustomer(h.t.gql);
      expect(await h.read(null, owner.token)).toBeNull();

      const first = await h.create([{ variantId: a, quantity: 1 }], owner.token);
      expect(first.id).toMatch(CART_ID);
      const second = await h.create(
        [
          { variantId: a, quantity: 2 },
          { variantId: b, quantity: 1 },
        ],
        owner.token,
      );
      expect(second.id).toBe(first.id);
      const expected = {
        itemCount: 4,
        subtotal: '13.50',
        discount: '0.00',
        total: '13.50',
        coupon: null,
        lines: [
          [a, 3, '3.00', '9.00'],
          [b, 1, '4.50', '4.50'],
        ],
      };
      expect(shape(second)).toEqual(expected);
      const empty = await h.create(null, owner.token);
      expect(empty.id).toBe(first.id);
      expect(shape(empty)).toEqual(expected);

      expect(shape(await h.read(null, owner.token))).toEqual(expected);
      expect(shape(await h.read(first.id, owner.token))).toEqual(expected);
      expect(await h.read(first.id, other.token)).toBeNull();
      expect(await h.read(first.id)).toBeNull();
      expect(await h.read(null)).toBeNull();
      expect(await h.read(null, other.token)).toBeNull();
      expect(await h.activeCarts(owner.id)).toEqual([{ id: first.id }]);
    });

    test('concurrent cartCreate calls of a customer without a cart make exactly one cart holding every line', async () => {
      const a = await h.variant('2.00');
      const customer = await signUpCustomer(h.t.gql);
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          h.t.gql(M_CREATE, { l: [{ variantId: a, quantity: 1 }] }, customer.token),
        ),
      );
      for (const r of results) {
        expect(r.errors).toBeUndefined();
        expect(r.data.cartCreate.__typename).toBe('Cart');
      }
      const ids = new Set(results.map((r) => r.data.cartCreate.id));
      expect(ids.size).toBe(1);
      const [id] = ids;
      expect(await h.activeCarts(customer.id)).toEqual([{ id }]);
      expect(shape(await h.read(null, customer.token))).toEqual({
        itemCount: 8,
        subtotal: '16.00',
        discount: '0.00',
        total: '16.00',
        coupon: null,
        lines: [[a, 8, '2.00', '16.00']],
      });
    });

    test("every mutation on another customer's cart is NOT_FOUND and changes nothing", async () => {
      const a = await h.variant('7.00');
      const owner = await signUpCustomer(h.t.gql);
      const intruder = await signUpCustomer(h.t.gql);
      const cart = await h.create([{ variantId: a, quantity: 2 }], owner.token);
      await h.coupon({ code: 'OWNER10', kind: 'PERCENT', value: '10' });
      const lineId = cart.lines[0].id;
      const before = shape(await h.read(null, owner.token));

      const attempts: [string, Record<string, unknown>][] = [
        [M_ADD, { c: cart.id, l: [{ variantId: a, quantity: 1 }] }],
        [M_UPDATE, { c: cart.id, l: [{ lineId, quantity: 5 }] }],
        [M_REMOVE, { c: cart.id, ids: [lineId] }],
        [M_COUPON, { c: cart.id, code: 'OWNER10' }],
        [M_UNCOUPON, { c: cart.id }],
      ];
      for (const token of [intruder.token, undefined, h.admin, h.m1.token]) {
        for (const [q, v] of attempts) {
          const r = await h.gql(q, v, token);
          expect(codeOf(r)).toBe('NOT_FOUND');
          expect(r.errors![0].message).toBe(`Cart ${cart.id} not found`);
          expect(r.data).toBeNull();
        }
      }
      expect(shape(await h.read(null, owner.token))).toEqual(before);
      expect(before).toEqual({
        itemCount: 2,
        subtotal: '14.00',
        discount: '0.00',
        total: '14.00',
        coupon: null,
        lines: [[a, 2, '7.00', '14.00']],
      });
    });

    test('a garbage or unknown cart id is NOT_FOUND for mutations and null for cart(id), never an internal error', async () => {
      const a = await h.variant();
      const customer = await signUpCustomer(h.t.gql);
      const ids = [
        'garbage',
        UNKNOWN_CART,
        'x'.repeat(5000),
        "'; drop table cart; --",
        '12345',
        'AAAAAAAAAAAAAAAAAAAAA=',
        ' ',
      ];
      for (const id of ids) {
        for (const token of [undefined, customer.token]) {
          for (const [q, v] of [
            [M_ADD, { c: id, l: [{ variantId: a, quantity: 1 }] }],
            [M_UPDATE, { c: id, l: [{ lineId: '1', quantity: 1 }] }],
            [M_REMOVE, { c: id, ids: ['1'] }],
            [M_COUPON, { c: id, code: 'ANY' }],
            [M_UNCOUPON, { c: id }],
          ] as [string, Record<string, unknown>][]) {
            const r = await h.gql(q, v, token);
            expect(codeOf(r)).toBe('NOT_FOUND');
            expect(r.errors![0].message).toBe(`Cart ${id.slice(0, 40)} not found`);
          }
          const read = await h.gql(Q_CART, { id }, token);
          expect(read.errors).toBeUndefined();
          expect(read.data.cart).toBeNull();
        }
      }
    });
  });

  describe('lines', () => {
    test('adding a variant already in the cart sums the quantities into one line', async () => {
      const a = await h.variant('1.25');
      const c = await h.create([{ variantId: a, quantity: 2 }]);
      const r = await h.add(c.id, [{ variantId: a, quantity: 3 }]);
      expect(shape(r)).toEqual({
        itemCount: 5,
        subtotal: '6.25',
        discount: '0.00',
        total: '6.25',
        coupon: null,
        lines: [[a, 5, '1.25', '6.25']],
      });
      expect(r.lines[0].id).toBe(c.lines[0].id);
      const both = await h.add(c.id, [
        { variantId: a, quantity: 1 },
        { variantId: a, quantity: 1 },
      ]);
      expect(shape(both)!.lines).toEqual([[a, 7, '1.25', '8.75']]);
      expect(await h.sql('select variant_id, quantity from cart_line where cart_id = ?', [c.id])).toEqual([
        { variant_id: a, quantity: 7 },
      ]);
    });

    test('cartLinesUpdate sets a quantity and 0 removes the line; a line of another cart is not in this cart', async () => {
      const a = await h.variant('2.00');
      const b = await h.variant('3.00');
      const c = await h.create([
        { variantId: a, quantity: 1 },
        { variantId: b, quantity: 1 },
      ]);
      const [la, lb] = c.lines.map((l: any) => l.id);
      const up = await h.update(c.id, [{ lineId: la, quantity: 4 }]);
      expect(shape(up)).toEqual({
        itemCount: 5,
        subtotal: '11.00',
        discount: '0.00',
        total: '11.00',
        coupon: null,
        lines: [
          [a, 4, '2.00', '8.00'],
          [b, 1, '3.00', '3.00'],
        ],
      });
      const gone = await h.update(c.id, [{ lineId: lb, quantity: 0 }]);
      expect(shape(gone)!.lines).toEqual([[a, 4, '2.00', '8.00']]);

      const other = await h.create([{ variantId: b, quantity: 2 }]);
      const foreign = await h.update(c.id, [{ lineId: other.lines[0].id, quantity: 9 }]);
      expect(foreign).toEqual({
        __typename: 'UserError',
        errorCode: 'VARIANT_UNAVAILABLE',
        message: `Cart line ${other.lines[0].id} is not in this cart`,
        field: 'lineId',
      });
      expect(shape(await h.read(other.id))!.lines).toEqual([[b, 2, '3.00', '6.00']]);
      const unknown = await h.update(c.id, [{ lineId: 'nope', quantity: 1 }]);
      expect(unknown).toMatchObject({ __typename: 'UserError', errorCode: 'VARIANT_UNAVAILABLE' });
      // the earlier update in a failing batch is undone
      const batch = await h.update(c.id, [
        { lineId: la, quantity: 1 },
        { lineId: lb, quantity: 1 },
      ]);
      expect(batch).toMatchObject({
        __typename: 'UserError',
        errorCode: 'VARIANT_UNAVAILABLE',
        message: `Cart line ${lb} is not in this cart`,
      });
      expect(shape(await h.read(c.id))!.lines).toEqual([[a, 4, '2.00', '8.00']]);

      const negative = await h.gql(M_UPDATE, { c: c.id, l: [{ lineId: la, quantity: -1 }] });
      expect(codeOf(negative)).toBe('BAD_USER_INPUT');
      expect(shape(await h.read(c.id))!.lines).toEqual([[a, 4, '2.00', '8.00']]);
    });

    test('cartLinesRemove removes only lines of this cart', async () => {
      const a = await h.variant('2.00');
      const b = await h.variant('3.00');
      const c = await h.create([
        { variantId: a, quantity: 1 },
        { variantId: b, quantity: 2 },
      ]);
      const other = await h.create([{ variantId: a, quantity: 3 }]);
      const r = await h.remove(c.id, [c.lines[0].id, other.lines[0].id, 'garbage']);
      expect(shape(r)).toEqual({
        itemCount: 2,
        subtotal: '6.00',
        discount: '0.00',
        total: '6.00',
        coupon: null,
        lines: [[b, 2, '3.00', '6.00']],
      });
      expect(shape(await h.read(other.id))!.lines).toEqual([[a, 3, '2.00', '6.00']]);
      const empty = await h.remove(c.id, [c.lines[1].id]);
      expect(shape(empty)).toEqual({
        itemCount: 0,
        subtotal: '0.00',
        discount: '0.00',
        total: '0.00',
        coupon: null,
        lines: [],
      });
    });

    test('an unknown variant is VARIANT_UNAVAILABLE; a malformed variant id or a quantity below 1 is BAD_USER_INPUT; nothing changes', async () => {
      const a = await h.variant('2.00');
      const c = await h.create([{ variantId: a, quantity: 1 }]);
      for (const variantId of ['999999999', '9999999999999999999']) {
        const r = await h.add(c.id, [{ variantId, quantity: 1 }]);
        expect(r).toEqual({
          __typename: 'UserError',
          errorCode: 'VARIANT_UNAVAILABLE',
          message: `Variant ${variantId} does not exist`,
          field: 'variantId',
        });
      }
      for (const line of [
        { variantId: 'abc', quantity: 1 },
        { variantId: a, quantity: 0 },
        { variantId: a, quantity: -3 },
        { variantId: a, quantity: 10_001 },
      ]) {
        const r = await h.gql(M_ADD, { c: c.id, l: [line] });
        expect(codeOf(r)).toBe('BAD_USER_INPUT');
      }
      expect(shape(await h.read(c.id))!.lines).toEqual([[a, 1, '2.00', '2.00']]);

      const carts = await h.cartRows();
      expect(codeOf(await h.gql(M_CREATE, { l: [{ variantId: a, quantity: 0 }] }))).toBe('BAD_USER_INPUT');
      expect(await h.mutate(M_CREATE, { l: [{ variantId: '999999999', quantity: 1 }] })).toMatchObject({
        __typename: 'UserError',
        errorCode: 'VARIANT_UNAVAILABLE',
      });
      expect(await h.cartRows()).toBe(carts);
    });

    test('more than is available is an OutOfStockError and changes nothing; the cart holds no stock', async () => {
      const a = await h.variant('4.00', 3);
      const c = await h.create(null);
      expect(await h.add(c.id, [{ variantId: a, quantity: 4 }])).toEqual({
        __typename: 'OutOfStockError',
        errorCode: 'OUT_OF_STOCK',
        message: `Only 3 of variant ${a} available, 4 requested`,
        variantId: a,
        requested: 4,
        available: 3,
      });
      expect(shape(await h.read(c.id))!.lines).toEqual([]);
      expect(shape(await h.add(c.id, [{ variantId: a, quantity: 2 }]))!.lines).toEqual([
        [a, 2, '4.00', '8.00'],
      ]);
      // the quantity already in the cart counts
      expect(await h.add(c.id, [{ variantId: a, quantity: 2 }])).toMatchObject({
        __typename: 'OutOfStockError',
        variantId: a,
        requested: 4,
        available: 3,
      });
      expect(shape(await h.read(c.id))!.lines).toEqual([[a, 2, '4.00', '8.00']]);
      // other carts may hold the same units: nothing is reserved
      const other = await h.create([{ variantId: a, quantity: 3 }]);
      expect(shape(other)!.lines).toEqual([[a, 3, '4.00', '12.00']]);
      expect(await h.sql('select on_hand, reserved, sold from variant where id = ?', [a])).toEqual([
        { on_hand: 3, reserved: 0, sold: 0 },
      ]);

      // stock taken away later: the cart keeps its lines, but raising a line is checked
      const set = await h.gql(
        `mutation($v: ID!, $n: Int!) { inventorySet(variantId: $v, onHand: $n) { onHand } }`,
        { v: a, n: 1 },
        h.m1.token,
      );
      expect(set.errors).toBeUndefined();
      expect(shape(await h.read(c.id))!.lines).toEqual([[a, 2, '4.00', '8.00']]);
      const lineId = c.lines.length ? c.lines[0].id : (await h.read(c.id)).lines[0].id;
      expect(await h.update(c.id, [{ lineId, quantity: 2 }])).toMatchObject({
        __typename: 'OutOfStockError',
        variantId: a,
        requested: 2,
        available: 1,
      });
      expect(shape(await h.read(c.id))!.lines).toEqual([[a, 2, '4.00', '8.00']]);
      expect(shape(await h.update(c.id, [{ lineId, quantity: 1 }]))!.lines).toEqual([[a, 1, '4.00', '4.00']]);
    });

    test('a failing multi-line add or create changes nothing at all', async () => {
      const a = await h.variant('1.00', 50);
      const b = await h.variant('2.00', 50);
      const scarce = await h.variant('3.00', 2);
      const c = await h.create([{ variantId: a, quantity: 1 }]);
      expect(
        await h.add(c.id, [
          { variantId: a, quantity: 1 },
          { variantId: b, quantity: 1 },
          { variantId: '999999999', quantity: 1 },
        ]),
      ).toMatchObject({ __typename: 'UserError', errorCode: 'VARIANT_UNAVAILABLE' });
      expect(
        await h.add(c.id, [
          { variantId: a, quantity: 5 },
          { variantId: b, quantity: 1 },
          { variantId: scarce, quantity: 3 },
        ]),
      ).toMatchObject({ __typename: 'OutOfStockError', variantId: scarce, requested: 3, available: 2 });
      expect(shape(await h.read(c.id))).toEqual({
        itemCount: 1,
        subtotal: '1.00',
        discount: '0.00',
        total: '1.00',
        coupon: null,
        lines: [[a, 1, '1.00', '1.00']],
      });

      const carts = await h.cartRows();
      const failed = await h.mutate(M_CREATE, {
        l: [
          { variantId: a, quantity: 1 },
          { variantId: scarce, quantity: 3 },
        ],
      });
      expect(failed).toMatchObject({
        __typename: 'OutOfStockError',
        variantId: scarce,
        requested: 3,
        available: 2,
      });
      expect(await h.cartRows()).toBe(carts);

      const customer = await signUpCustomer(h.t.gql);
      expect(
        await h.mutate(
          M_CREATE,
          {
            l: [
              { variantId: a, quantity: 1 },
              { variantId: scarce, quantity: 3 },
            ],
          },
          customer.token,
        ),
      ).toMatchObject({
        __typename: 'OutOfStockError',
      });
      expect(await h.read(null, customer.token)).toBeNull();
      expect(await h.activeCarts(customer.id)).toEqual([]);
    });

    test('prices are those of now on every read', async () => {
      const a = await h.variant('10.00');
      const b = await h.variant('1.00');
      const c = await h.create([
        { variantId: a, quantity: 3 },
        { variantId: b, quantity: 1 },
      ]);
      expect(shape(c)!.total).toBe('31.00');
      await h.sql('update variant set price = ? where id = ?', [1299, a]);
      expect(shape(await h.read(c.id))).toEqual({
        itemCount: 4,
        subtotal: '39.97',
        discount: '0.00',
        total: '39.97',
        coupon: null,
        lines: [
          [a, 3, '12.99', '38.97'],
          [b, 1, '1.00', '1.00'],
        ],
      });
      await h.sql('update variant set price = ? where id = ?', [5, a]);
      expect(shape(await h.read(c.id))).toEqual({
        itemCount: 4,
        subtotal: '1.15',
        discount: '0.00',
        total: '1.15',
        coupon: null,
        lines: [
          [a, 3, '0.05', '0.15'],
          [b, 1, '1.00', '1.00'],
        ],
      });
      expect(
        await h.sql('select on_hand, reserved, sold from variant where id in (?, ?) order by id', [a, b]),
      ).toEqual([
        { on_hand: 100, reserved: 0, sold: 0 },
        { on_hand: 100, reserved: 0, sold: 0 },
      ]);
    });

    test('20 concurrent adds of one unit to one cart end at exactly 20', async () => {
      const a = await h.variant('0.50', 30);
      const c = await h.create(null);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => h.t.gql(M_ADD, { c: c.id, l: [{ variantId: a, quantity: 1 }] })),
      );
      for (const r of results) {
        expect(r.errors).toBeUndefined();
        expect(r.data.cartLinesAdd.__typename).toBe('Cart');
      }
      // each add saw the ones before it: every quantity from 1 to 20 was returned once
      expect(results.map((r) => r.data.cartLinesAdd.lines[0].quantity).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      expect(shape(await h.read(c.id))).toEqual({
        itemCount: 20,
        subtotal: '10.00',
        discount: '0.00',
        total: '10.00',
        coupon: null,
        lines: [[a, 20, '0.50', '10.00']],
      });
      expect(await h.sql('select variant_id, quantity from cart_line where cart_id = ?', [c.id])).toEqual([
        { variant_id: a, quantity: 20 },
      ]);
    });

    test("a change returns the cart's new updatedAt, the one later reads show", async () => {
      const a = await h.variant('1.00');
      const customer = await signUpCustomer(h.t.gql);
      for (const token of [undefined, customer.token]) {
        const c = await h.create([{ variantId: a, quantity: 1 }], token);
        await h.sql(`update cart set updated_at = now() - interval '1 day' where id = ?`, [c.id]);
        const old = new Date((await h.read(c.id, token)).updatedAt).getTime();
        expect(Date.now() - old).toBeGreaterThan(23 * 3600_000);

        const changes: (() => Promise<any>)[] = [
          () => h.add(c.id, [{ variantId: a, quantity: 1 }], token),
          () => h.remove(c.id, ['999999'], token),
          () => h.mutate(M_UNCOUPON, { c: c.id }, token),
        ];
        if (token) changes.push(() => h.create([{ variantId: a, quantity: 1 }], token));
        for (const change of changes) {
          await h.sql(`update cart set updated_at = now() - interval '1 day' where id = ?`, [c.id]);
          const r = await change();
          expect(r.__typename).toBe('Cart');
          const returned = new Date(r.updatedAt).getTime();
          expect(Math.abs(Date.now() - returned)).toBeLessThan(60_000);
          expect((await h.read(c.id, token)).updatedAt).toBe(r.updatedAt);
        }
      }
    });
  });

  describe('coupons', () => {
    const twoLines = async () => {
      const a = await h.variant('12.34');
      const b = await h.variant('5.01');
      const c = await h.create([
        { variantId: a, quantity: 2 },
        { variantId: b, quantity: 1 },
      ]);
      return { a, b, c };
    };

    test('only ADMIN creates coupons', async () => {
      const customer = await signUpCustomer(h.t.gql);
      const input = { code: 'NOTYOURS', description: 'x', kind: 'PERCENT', value: '10' };
      expect(codeOf(await h.gql(M_COUPON_CREATE, { i: input }, customer.token))).toBe('FORBIDDEN');
      expect(codeOf(await h.gql(M_COUPON_CREATE, { i: input }, h.m1.token))).toBe('FORBIDDEN');
      expect(codeOf(await h.gql(M_COUPON_CREATE, { i: input }))).toBe('UNAUTHENTICATED');
      expect(await h.coupon({ code: 'yours', kind: 'FIXED', value: '1.00' })).toEqual({
        code: 'YOURS',
        description: 'yours off',
      });
    });

    test('an unknown code, a coupon outside its window, or a subtotal below its minimum is COUPON_INVALID and changes nothing', async () => {
      const { c } = await twoLines(); // 29.69
      const day = 24 * 3600_000;
      await h.coupon({
        code: 'SOON',
        kind: 'PERCENT',
        value: '10',
        startsAt: new Date(Date.now() + day).toISOString(),
      });
      await h.coupon({
        code: 'PAST',
        kind: 'PERCENT',
        value: '10',
        startsAt: new Date(Date.now() - 2 * day).toISOString(),
        endsAt: new Date(Date.now() - day).toISOString(),
      });
      await h.coupon({ code: 'BIG50', kind: 'FIXED', value: '5.00', minSubtotal: '50.00' });
      await h.coupon({ code: 'ONEOFF', kind: 'FIXED', value: '1.00' });
      await h.applyCoupon(c.id, 'ONEOFF'); // a coupon already on the cart stays when another is refused
      const before = shape(await h.read(c.id));
      expect(before).toMatchObject({ coupon: 'ONEOFF', discount: '1.00', total: '28.69' });

      expect(await h.applyCoupon(c.id, 'nope')).toEqual({
        __typename: 'UserError',
        errorCode: 'COUPON_INVALID',
        message: 'No coupon NOPE',
        field: 'code',
      });
      expect(await h.applyCoupon(c.id, 'SOON')).toEqual({
        __typename: 'UserError',
        errorCode: 'COUPON_INVALID',
        message: 'Coupon SOON is not valid now',
        field: 'code',
      });
      expect(await h.applyCoupon(c.id, 'past')).toEqual({
        __typename: 'UserError',
        errorCode: 'COUPON_INVALID',
        message: 'Coupon PAST is not valid now',
        field: 'code',
      });
      expect(await h.applyCoupon(c.id, 'BIG50')).toEqual({
        __typename: 'UserError',
        errorCode: 'COUPON_INVALID',
        message: 'Coupon BIG50 needs a subtotal of at least 50.00',
        field: 'code',
      });
      expect(shape(await h.read(c.id))).toEqual(before);
      expect(await h.sql('select coupon_code from cart where id = ?', [c.id])).toEqual([
        { coupon_code: 'ONEOFF' },
      ]);

      // once the subtotal reaches the minimum it applies
      const big = await h.variant('20.31');
      await h.add(c.id, [{ variantId: big, quantity: 1 }]); // 50.00 exactly
      const ok = await h.applyCoupon(c.id, 'big50');
      expect(shape(ok)).toMatchObject({
        subtotal: '50.00',
        discount: '5.00',
        total: '45.00',
        coupon: 'BIG50',
      });
    });

    test('a coupon used up is COUPON_EXHAUSTED', async () => {
      const { c } = await twoLines();
      await h.coupon({ code: 'LIMITED', kind: 'PERCENT', value: '10', usageLimit: 3 });
      await h.sql('update coupon set used_count = usage_limit where code = ?', ['LIMITED']);
      expect(await h.applyCoupon(c.id, 'limited')).toEqual({
        __typename: 'UserError',
        errorCode: 'COUPON_EXHAUSTED',
        message: 'Coupon LIMITED has been used up',
        field: 'code',
      });
      expect(shape(await h.read(c.id))).toMatchObject({ coupon: null, discount: '0.00', total: '29.69' });
      await h.sql('update coupon set used_count = 2 where code = ?', ['LIMITED']);
      expect(shape(await h.applyCoupon(c.id, 'limited'))).toMatchObject({
        coupon: 'LIMITED',
        discount: '2.96',
        total: '26.73',
      });
    });

    test('a percent coupon takes its share, rounded down, spread over the lines; cartCouponRemove takes it off', async () => {
      const { a, b, c } = await twoLines();
      await h.coupon({
        code: 'TENOFF',
        description: 'Ten percent off everything',
        kind: 'PERCENT',
        value: '10',
      });
      const r = await h.applyCoupon(c.id, '  tenoff ');
      expect(r.coupon).toEqual({ code: 'TENOFF', description: 'Ten percent off everything' });
      // 10% of 29.69 = 2.969 -> 2.96, shared 2.46 / 0.50 (largest remainder)
      const expected = {
        itemCount: 3,
        subtotal: '29.69',
        discount: '2.96',
        total: '26.73',
        coupon: 'TENOFF',
        lines: [
          [a, 2, '12.34', '22.22'],
          [b, 1, '5.01', '4.51'],
        ],
      };
      expect(shape(r)).toEqual(expected);
      expect(shape(await h.read(c.id))).toEqual(expected);
      expect(r.lines.reduce((s: number, l: any) => s + cents(l.lineTotal.amount), 0)).toBe(
        cents(r.total.amount),
      );

      const off = await h.mutate(M_UNCOUPON, { c: c.id });
      expect(shape(off)).toEqual({
        ...expected,
        discount: '0.00',
        total: '29.69',
        coupon: null,
        lines: [
          [a, 2, '12.34', '24.68'],
          [b, 1, '5.01', '5.01'],
        ],
      });
      expect(off.coupon).toBeNull();
      expect(await h.sql('select coupon_code from cart where id = ?', [c.id])).toEqual([
        { coupon_code: null },
      ]);
    });

    test('a fixed coupon takes its amount, never more than the cart', async () => {
      const { a, b, c } = await twoLines();
      await h.coupon({ code: 'FIVE', kind: 'FIXED', value: '5.00' });
      const r = await h.applyCoupon(c.id, 'FIVE');
      // 5.00 shared 4.16 / 0.84
      expect(shape(r)).toEqual({
        itemCount: 3,
        subtotal: '29.69',
        discount: '5.00',
        total: '24.69',
        coupon: 'FIVE',
        lines: [
          [a, 2, '12.34', '20.52'],
          [b, 1, '5.01', '4.17'],
        ],
      });

      await h.coupon({ code: 'HUNDRED', kind: 'FIXED', value: '100.00' });
      const all = await h.applyCoupon(c.id, 'HUNDRED');
      expect(shape(all)).toEqual({
        itemCount: 3,
        subtotal: '29.69',
        discount: '29.69',
        total: '0.00',
        coupon: 'HUNDRED',
        lines: [
          [a, 2, '12.34', '0.00'],
          [b, 1, '5.01', '0.00'],
        ],
      });
    });

    test('a coupon whose minimum is no longer met stays on the cart but takes nothing off', async () => {
      const a = await h.variant('30.00');
      const b = await h.variant('25.00');
      await h.coupon({ code: 'MIN50', kind: 'PERCENT', value: '20', minSubtotal: '50.00' });
      const c = await h.create([
        { variantId: a, quantity: 1 },
        { variantId: b, quantity: 1 },
      ]);
      expect(shape(await h.applyCoupon(c.id, 'MIN50'))).toMatchObject({
        subtotal: '55.00',
        discount: '11.00',
        total: '44.00',
        coupon: 'MIN50',
      });
      const r = await h.remove(c.id, [c.lines[1].id]);
      expect(shape(r)).toEqual({
        itemCount: 1,
        subtotal: '30.00',
        discount: '0.00',
        total: '30.00',
        coupon: 'MIN50',
        lines: [[a, 1, '30.00', '30.00']],
      });
    });
  });

  describe('merge at sign-in', () => {
    test("an anonymous cart merges into the customer's cart exactly once", async () => {
      const a = await h.variant('2.00');
      const b = await h.variant('3.00');
      const x = await h.variant('5.00');
      const customer = await signUpCustomer(h.t.gql);
      const own = await h.create(
        [
          { variantId: a, quantity: 2 },
          { variantId: x, quantity: 1 },
        ],
        customer.token,
      );
      const anon = await h.create([
        { variantId: a, quantity: 3 },
        { variantId: b, quantity: 1 },
      ]);

      const s = await h.signIn(customer.email, anon.id);
      expect(s.viewer.id).toBe(customer.id);
      const expected = {
        itemCount: 7,
        subtotal: '18.00',
        discount: '0.00',
        total: '18.00',
        coupon: null,
        lines: [
          [a, 5, '2.00', '10.00'],
          [x, 1, '5.00', '5.00'],
          [b, 1, '3.00', '3.00'],
        ],
      };
      expect(s.cart.id).toBe(own.id);
      expect(shape(s.cart)).toEqual(expected);
      expect(shape(await h.read(null, s.token))).toEqual(expected);

      // the anonymous cart is gone for everyone, and cannot be changed any more
      expect(await h.read(anon.id)).toBeNull();
      expect(await h.read(anon.id, s.token)).toBeNull();
      expect(codeOf(await h.gql(M_ADD, { c: anon.id, l: [{ variantId: a, quantity: 1 }] }))).toBe(
        'NOT_FOUND',
      );
      expect(await h.sql('select status, merged_into from cart where id = ?', [anon.id])).toEqual([
        { status: 'MERGED', merged_into: own.id },
      ]);

      // signing in again with the same cart id changes nothing
      const again = await h.signIn(customer.email, anon.id);
      expect(again.cart.id).toBe(own.id);
      expect(shape(again.cart)).toEqual(expected);
      expect(await h.activeCarts(customer.id)).toEqual([{ id: own.id }]);

      // signing in without a cart id merges nothing
      const plain = await h.signIn(customer.email, null);
      expect(plain.cart).toBeNull();
      expect(shape(await h.read(null, plain.token))).toEqual(expected);
    });

    test('a sign-in with a malformed cart id still signs in and leaves the cart alone', async () => {
      const a = await h.variant('2.00');
      const customer = await signUpCustomer(h.t.gql);
      await h.create([{ variantId: a, quantity: 1 }], customer.token);
      const s = await h.signIn(customer.email, 'not-a-cart');
      expect(s.viewer.id).toBe(customer.id);
      expect(shape(await h.read(null, s.token))!.lines).toEqual([[a, 1, '2.00', '2.00']]);
    });

    test("another customer's cart id is not merged", async () => {
      const a = await h.variant('2.00');
      const victim = await signUpCustomer(h.t.gql);
      const thief = await signUpCustomer(h.t.gql);
      const vc = await h.create([{ variantId: a, quantity: 4 }], victim.token);
      const s = await h.signIn(thief.email, vc.id);
      expect(shape(s.cart)).toEqual({
        itemCount: 0,
        subtotal: '0.00',
        discount: '0.00',
        total: '0.00',
        coupon: null,
        lines: [],
      });
      expect(shape(await h.read(null, victim.token))!.lines).toEqual([[a, 4, '2.00', '8.00']]);
      expect(await h.sql('select status from cart where id = ?', [vc.id])).toEqual([{ status: 'ACTIVE' }]);
    });

    test('merging into a customer without a cart creates their cart', async () => {
      const a = await h.variant('2.50');
      const customer = await signUpCustomer(h.t.gql);
      expect(await h.activeCarts(customer.id)).toEqual([]);
      const anon = await h.create([{ variantId: a, quantity: 2 }]);
      const s = await h.signIn(customer.email, anon.id);
      expect(s.cart.id).toMatch(CART_ID);
      expect(s.cart.id).not.toBe(anon.id);
      expect(shape(s.cart)).toEqual({
        itemCount: 2,
        subtotal: '5.00',
        discount: '0.00',
        total: '5.00',
        coupon: null,
        lines: [[a, 2, '2.50', '5.00']],
      });
      expect(await h.activeCarts(customer.id)).toEqual([{ id: s.cart.id }]);
      expect(await h.read(anon.id)).toBeNull();
    });

    test("the anonymous cart's coupon carries over when the customer's cart has none, and never replaces one", async () => {
      const a = await h.variant('10.00');
      await h.coupon({ code: 'CARRY', kind: 'PERCENT', value: '10' });
      await h.coupon({ code: 'KEEP', kind: 'FIXED', value: '1.00' });

      const fresh = await signUpCustomer(h.t.gql);
      const anon1 = await h.create([{ variantId: a, quantity: 2 }]);
      await h.applyCoupon(anon1.id, 'CARRY');
      const s1 = await h.signIn(fresh.email, anon1.id);
      expect(shape(s1.cart)).toEqual({
        itemCount: 2,
        subtotal: '20.00',
        discount: '2.00',
        total: '18.00',
        coupon: 'CARRY',
        lines: [[a, 2, '10.00', '18.00']],
      });

      const withCart = await signUpCustomer(h.t.gql);
      await h.create([{ variantId: a, quantity: 1 }], withCart.token);
      const anon2 = await h.create([{ variantId: a, quantity: 1 }]);
      await h.applyCoupon(anon2.id, 'CARRY');
      const s2 = await h.signIn(withCart.email, anon2.id);
      expect(shape(s2.cart)).toMatchObject({
        coupon: 'CARRY',
        subtotal: '20.00',
        discount: '2.00',
        total: '18.00',
      });

      const keeps = await signUpCustomer(h.t.gql);
      const kc = await h.create([{ variantId: a, quantity: 1 }], keeps.token);
      await h.applyCoupon(kc.id, 'KEEP', keeps.token);
      const anon3 = await h.create([{ variantId: a, quantity: 1 }]);
      await h.applyCoupon(anon3.id, 'CARRY');
      const s3 = await h.signIn(keeps.email, anon3.id);
      expect(shape(s3.cart)).toEqual({
        itemCount: 2,
        subtotal: '20.00',
        discount: '1.00',
        total: '19.00',
        coupon: 'KEEP',
        lines: [[a, 2, '10.00', '19.00']],
      });
    });

    test('20 concurrent sign-ins with the same anonymous cart merge it exactly once', async () => {
      const a = await h.variant('1.00');
      const b = await h.variant('2.00');
      const customer = await signUpCustomer(h.t.gql);
      const own = await h.create([{ variantId: a, quantity: 1 }], customer.token);
      const anon = await h.create([
        { variantId: a, quantity: 2 },
        { variantId: b, quantity: 3 },
      ]);
      const results: GqlResponse[] = await Promise.all(
        Array.from({ length: 20 }, () => h.t.gql(M_SIGN_IN, { e: customer.email, p: PASSWORD, c: anon.id })),
      );
      const expected = {
        itemCount: 6,
        subtotal: '9.00',
        discount: '0.00',
        total: '9.00',
        coupon: null,
        lines: [
          [a, 3, '1.00', '3.00'],
          [b, 3, '2.00', '6.00'],
        ],
      };
      for (const r of results) {
        expect(r.errors).toBeUndefined();
        expect(r.data.signIn.__typename).toBe('AuthPayload');
        expect(r.data.signIn.cart.id).toBe(own.id);
        expect(shape(r.data.signIn.cart)).toEqual(expected);
      }
      expect(await h.activeCarts(customer.id)).toEqual([{ id: own.id }]);
      expect(
        await h.sql('select variant_id, quantity from cart_line where cart_id = ? order by variant_id', [
          own.id,
        ]),
      ).toEqual([
        { variant_id: a, quantity: 3 },
        { variant_id: b, quantity: 3 },
      ]);
      expect(await h.sql('select status, merged_into from cart where id = ?', [anon.id])).toEqual([
        { status: 'MERGED', merged_into: own.id },
      ]);
    });

    test('sign-ins merging carts while the owner adds lines lose no quantity', async () => {
      const a = await h.variant('1.00', 500);
      const customer = await signUpCustomer(h.t.gql);
      const own = await h.create([{ variantId: a, quantity: 1 }], customer.token);
      const anons: string[] = [];
      for (let i = 0; i < 8; i++) anons.push((await h.create([{ variantId: a, quantity: 2 }])).id);
      const results = await Promise.all([
        ...anons.map((id) => h.t.gql(M_SIGN_IN, { e: customer.email, p: PASSWORD, c: id })),
        ...anons.map(() => h.t.gql(M_ADD, { c: own.id, l: [{ variantId: a, quantity: 1 }] }, customer.token)),
      ]);
      for (const r of results) expect(r.errors).toBeUndefined();
      // 1 + 8 x 2 merged + 8 x 1 added
      expect(await h.sql('select variant_id, quantity from cart_line where cart_id = ?', [own.id])).toEqual([
        { variant_id: a, quantity: 25 },
      ]);
      expect(await h.activeCarts(customer.id)).toEqual([{ id: own.id }]);
    });
  });

  describe('purgeStale', () => {
    test('removes anonymous and merged carts untouched for longer than the limit, never a fresh one or a customer cart', async () => {
      const a = await h.variant('1.00');
      const customer = await signUpCustomer(h.t.gql);
      const stale = await h.create([{ variantId: a, quantity: 1 }]);
      const fresh = await h.create([{ variantId: a, quantity: 1 }]);
      const own = await h.create([{ variantId: a, quantity: 2 }], customer.token);
      const merged = await h.create([{ variantId: a, quantity: 1 }]);
      await h.signIn(customer.email, merged.id);
      const aged = [stale.id, own.id, merged.id];
      await h.sql(`update cart set updated_at = now() - interval '40 days' where id in (?, ?, ?)`, aged);
      const recent = await h.create(null);
      await h.sql(`update cart set updated_at = now() - interval '29 days' where id = ?`, [recent.id]);

      const purged = await h.t.app.services.cart.purgeStale(h.t.app.orm.em.fork() as any, 30);
      expect(purged).toBe(2);
      expect(await h.read(stale.id)).toBeNull();
      expect(await h.sql('select id from cart where id in (?, ?)', [stale.id, merged.id])).toEqual([]);
      expect(
        await h.sql('select count(*)::int as n from cart_line where cart_id in (?, ?)', [
          stale.id,
          merged.id,
        ]),
      ).toEqual([{ n: 0 }]);
      expect(shape(await h.read(fresh.id))!.lines).toEqual([[a, 1, '1.00', '1.00']]);
      expect(shape(await h.read(recent.id))!.lines).toEqual([]);
      expect(shape(await h.read(null, customer.token))!.lines).toEqual([[a, 3, '1.00', '3.00']]);
      expect(await h.activeCarts(customer.id)).toEqual([{ id: own.id }]);
      // and nothing left to do the second time
      expect(await h.t.app.services.cart.purgeStale(h.t.app.orm.em.fork() as any, 30)).toBe(0);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('carts with CART_MAX_LINE_QUANTITY=5 and CART_MAX_LINES=3', () => {
  const h = harness({ CART_MAX_LINE_QUANTITY: '5', CART_MAX_LINES: '3' });
  beforeAll(() => h.start());
  afterAll(() => h.t?.stop());

  test('a line above the per-line limit is QUANTITY_LIMIT_EXCEEDED and changes nothing', async () => {
    const a = await h.variant('1.00', 50);
    const limit = {
      __typename: 'UserError',
      errorCode: 'QUANTITY_LIMIT_EXCEEDED',
      message: 'At most 5 of one variant per order',
      field: 'quantity',
    };
    const carts = await h.cartRows();
    expect(await h.mutate(M_CREATE, { l: [{ variantId: a, quantity: 6 }] })).toEqual(limit);
    expect(await h.cartRows()).toBe(carts);

    const c = await h.create([{ variantId: a, quantity: 3 }]);
    expect(await h.add(c.id, [{ variantId: a, quantity: 3 }])).toEqual(limit);
    expect(await h.add(c.id, [{ variantId: a, quantity: 6 }])).toEqual(limit);
    expect(shape(await h.read(c.id))!.lines).toEqual([[a, 3, '1.00', '3.00']]);
    expect(shape(await h.add(c.id, [{ variantId: a, quantity: 2 }]))!.lines).toEqual([
      [a, 5, '1.00', '5.00'],
    ]);
    expect(await h.add(c.id, [{ variantId: a, quantity: 1 }])).toEqual(limit);

    const lineId = (await h.read(c.id)).lines[0].id;
    expect(await h.update(c.id, [{ lineId, quantity: 6 }])).toEqual(limit);
    expect(shape(await h.read(c.id))!.lines).toEqual([[a, 5, '1.00', '5.00']]);
    expect(shape(await h.update(c.id, [{ lineId, quantity: 4 }]))!.lines).toEqual([[a, 4, '1.00', '4.00']]);
  });

  test('concurrent adds stop at the per-line limit', async () => {
    const a = await h.variant('1.00', 50);
    const c = await h.create(null);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => h.t.gql(M_ADD, { c: c.id, l: [{ variantId: a, quantity: 1 }] })),
    );
    const kinds = results.map((r) => r.data.cartLinesAdd.__typename ?? r.errors);
    expect(kinds.filter((k) => k === 'Cart')).toHaveLength(5);
    expect(kinds.filter((k) => k === 'UserError')).toHaveLength(5);
    expect(shape(await h.read(c.id))!.lines).toEqual([[a, 5, '1.00', '5.00']]);
  });

  test('a cart holds at most CART_MAX_LINES lines', async () => {
    const vs = [
      await h.variant('1.00'),
      await h.variant('2.00'),
      await h.variant('3.00'),
      await h.variant('4.00'),
    ];
    const c = await h.create(vs.slice(0, 2).map((variantId) => ({ variantId, quantity: 1 })));
    expect(
      await h.add(
        c.id,
        vs.slice(2).map((variantId) => ({ variantId, quantity: 1 })),
      ),
    ).toEqual({
      __typename: 'UserError',
      errorCode: 'QUANTITY_LIMIT_EXCEEDED',
      message: 'A cart holds at most 3 lines',
      field: 'lines',
    });
    expect(shape(await h.read(c.id))!.lines.map((l) => l[0])).toEqual(vs.slice(0, 2));
    expect(shape(await h.add(c.id, [{ variantId: vs[2], quantity: 1 }]))!.lines.map((l) => l[0])).toEqual(
      vs.slice(0, 3),
    );
  });

  test('quantities merged at sign-in are capped at the per-line limit', async () => {
    const a = await h.variant('1.00', 50);
    const b = await h.variant('2.00', 50);
    const customer = await signUpCustomer(h.t.gql);
    const own = await h.create([{ variantId: a, quantity: 4 }], customer.token);
    const anon = await h.create([
      { variantId: a, quantity: 3 },
      { variantId: b, quantity: 5 },
    ]);
    const s = await h.signIn(customer.email, anon.id);
    expect(s.cart.id).toBe(own.id);
    expect(shape(s.cart)).toEqual({
      itemCount: 10,
      subtotal: '15.00',
      discount: '0.00',
      total: '15.00',
      coupon: null,
      lines: [
        [a, 5, '1.00', '5.00'],
        [b, 5, '2.00', '10.00'],
      ],
    });
    expect(await h.read(anon.id)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Promotions apply to every cart of the app, so they get an app of their own.

describe('carts with promotions', () => {
  const h = harness();
  beforeAll(() => h.start());
  afterAll(() => h.t?.stop());

  test('a merchant collection promotion covers only that merchant’s lines; a platform promotion covers all; they stack with a coupon', async () => {
    const summerM1 = await h.variant('40.00', 100, { collections: ['summer'] });
    const plainM1 = await h.variant('10.00', 100);
    const summerM2 = await h.variant('25.00', 100, { merchant: h.m2, collections: ['summer'] });
    const c = await h.create([
      { variantId: summerM1, quantity: 1 },
      { variantId: plainM1, quantity: 1 },
      { variantId: summerM2, quantity: 1 },
    ]);
    expect(shape(c)).toMatchObject({ subtotal: '75.00', discount: '0.00', total: '75.00' });

    const customer = await signUpCustomer(h.t.gql);
    const input = { name: 'Summer sale', kind: 'PERCENT', value: '20', collection: 'summer' };
    expect(codeOf(await h.gql(M_PROMO_CREATE, { i: input }, customer.token))).toBe('FORBIDDEN');
    expect(codeOf(await h.gql(M_PROMO_CREATE, { i: input }))).toBe('UNAUTHENTICATED');
    const merchantPromo = await h.gql(M_PROMO_CREATE, { i: input }, h.m1.token);
    expect(merchantPromo.errors).toBeUndefined();
    expect(merchantPromo.data.promotionCreate).toMatchObject({ name: 'Summer sale', active: true });

    // 20% of 40.00 on m1's summer line only; m2's summer line is not m1's to discount
    const one = shape(await h.read(c.id));
    expect(one).toEqual({
      itemCount: 3,
      subtotal: '75.00',
      discount: '8.00',
      total: '67.00',
      coupon: null,
      lines: [
        [summerM1, 1, '40.00', '32.00'],
        [plainM1, 1, '10.00', '10.00'],
        [summerM2, 1, '25.00', '25.00'],
      ],
    });

    const platform = await h.gql(
      M_PROMO_CREATE,
      { i: { name: 'Everything 10%', kind: 'PERCENT', value: '10' } },
      h.admin,
    );
    expect(platform.errors).toBeUndefined();
    expect(platform.data.promotionCreate).toMatchObject({ name: 'Everything 10%', active: true });
    // merchant 20% first (lower id): 40.00 -> 32.00; then 10% of what is left, 67.00 -> 6.70 (3.20 / 1.00 / 2.50)
    const two = shape(await h.read(c.id));
    expect(two).toEqual({
      itemCount: 3,
      subtotal: '75.00',
      discount: '14.70',
      total: '60.30',
      coupon: null,
      lines: [
        [summerM1, 1, '40.00', '28.80'],
        [plainM1, 1, '10.00', '9.00'],
        [summerM2, 1, '25.00', '22.50'],
      ],
    });

    // a fixed coupon comes after the promotions: 5.00 over 28.80 / 9.00 / 22.50 -> 2.39 / 0.75 / 1.86
    await h.coupon({ code: 'AFTER5', kind: 'FIXED', value: '5.00' });
    const three = await h.applyCoupon(c.id, 'AFTER5');
    expect(shape(three)).toEqual({
      itemCount: 3,
      subtotal: '75.00',
      discount: '19.70',
      total: '55.30',
      coupon: 'AFTER5',
      lines: [
        [summerM1, 1, '40.00', '26.41'],
        [plainM1, 1, '10.00', '8.25'],
        [summerM2, 1, '25.00', '20.64'],
      ],
    });
    expect(three.lines.reduce((s: number, l: any) => s + cents(l.lineTotal.amount), 0)).toBe(
      cents(three.total.amount),
    );

    // a promotion whose window has not opened takes nothing
    const later = await h.gql(
      M_PROMO_CREATE,
      {
        i: {
          name: 'Later',
          kind: 'FIXED',
          value: '3.00',
          startsAt: new Date(Date.now() + 86_400_000).toISOString(),
        },
      },
      h.admin,
    );
    expect(later.data.promotionCreate).toMatchObject({ active: false });
    expect(shape(await h.read(c.id))).toEqual(shape(three));
  });

  test('a promotion with a minimum subtotal applies only once the cart reaches it', async () => {
    const a = await h.variant('30.00', 100, { merchant: h.m2 });
    const promo = await h.gql(
      M_PROMO_CREATE,
      { i: { name: 'Big basket', kind: 'FIXED', value: '4.00', minSubtotal: '60.00' } },
      h.admin,
    );
    expect(promo.data.promotionCreate).toMatchObject({ name: 'Big basket', active: true });
    // the 10% platform promotion of the test before still runs: 30.00 -> 27.00
    const c = await h.create([{ variantId: a, quantity: 1 }]);
    expect(shape(c)).toEqual({
      itemCount: 1,
      subtotal: '30.00',
      discount: '3.00',
      total: '27.00',
      coupon: null,
      lines: [[a, 1, '30.00', '27.00']],
    });
    const two = await h.add(c.id, [{ variantId: a, quantity: 1 }]);
    // 60.00: 10% -> 54.00, then 4.00 fixed -> 50.00
    expect(shape(two)).toEqual({
      itemCount: 2,
      subtotal: '60.00',
      discount: '10.00',
      total: '50.00',
      coupon: null,
      lines: [[a, 2, '30.00', '50.00']],
    });
  });
});
