import { Writable } from 'node:stream';
import { createLogger } from '../../src/server/protection/log';
import { adminToken, createMerchant, createProduct } from '../factories/catalog';
import { startTestApp, type TestApp } from '../support/app';

/** Caps on list arguments, merged duplicate lines, control characters, and what reaches the logs. */
let t: TestApp;
let variantA: string;
let variantB: string;

beforeAll(async () => {
  t = await startTestApp();
  const admin = await adminToken(t.gql);
  const m = await createMerchant(t.gql, admin);
  const p = await createProduct(t.gql, m.token, { variants: [{ onHand: 50 }, { onHand: 50 }] });
  [variantA, variantB] = p.variantIds;
});
afterAll(() => t?.stop());

const CART = `id lines { id quantity variant { id } }`;
const cartCreate = (lines: object[]) =>
  t.gql(
    `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename ... on Cart { ${CART} } ... on ErrorResult { errorCode message } } }`,
    {
      l: lines,
    },
  );

describe('list arguments are capped before any SQL', () => {
  test('cartLinesUpdate with 5,000 copies of a line is BAD_USER_INPUT and runs no statement', async () => {
    const cart = (await cartCreate([{ variantId: variantA, quantity: 1 }])).data.cartCreate;
    const lineId = cart.lines[0].id;
    const r = await t.gql(
      `mutation($c: ID!, $l: [CartLineUpdateInput!]!) { cartLinesUpdate(cartId: $c, lines: $l) { __typename } }`,
      { c: cart.id, l: Array.from({ length: 5000 }, () => ({ lineId, quantity: 2 })) },
    );
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0].message).toBe('A list input may hold at most 100 entries ($l has 5000)');
    expect(r.extensions?.sqlStatements).toBe(0);
  });

  test.each([
    ['cartCreate', `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename } }`, false],
    [
      'cartLinesAdd',
      `mutation($c: ID!, $l: [CartLineInput!]!) { cartLinesAdd(cartId: $c, lines: $l) { __typename } }`,
      true,
    ],
  ])('%s with 5,000 lines is refused the same way', async (_name, query, needsCart) => {
    const c = needsCart ? (await cartCreate([])).data.cartCreate.id : undefined;
    const r = await t.gql(query, {
      c,
      l: Array.from({ length: 5000 }, () => ({ variantId: variantA, quantity: 1 })),
    });
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.extensions?.sqlStatements).toBe(0);
  });

  test('101 lines, one more than a cart holds, are refused by the resolver before any SQL', async () => {
    const r = await cartCreate(Array.from({ length: 101 }, () => ({ variantId: variantA, quantity: 1 })));
    // 100 is also the longest list any argument takes, so 101 is refused before execution.
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.extensions?.sqlStatements).toBe(0);
  });

  test('cartLinesRemove with 5,000 ids is refused too', async () => {
    const c = (await cartCreate([])).data.cartCreate.id;
    const r = await t.gql(
      `mutation($c: ID!, $l: [ID!]!) { cartLinesRemove(cartId: $c, lineIds: $l) { __typename } }`,
      {
        c,
        l: Array.from({ length: 5000 }, (_, i) => String(i + 1)),
      },
    );
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.extensions?.sqlStatements).toBe(0);
  });
});

describe('duplicate lines are merged', () => {
  test('cartCreate: one variant named three times is one line with the quantities added, in the statements of one', async () => {
    const single = await cartCreate([{ variantId: variantA, quantity: 3 }]);
    const r = await cartCreate([
      { variantId: variantA, quantity: 1 },
      { variantId: variantB, quantity: 1 },
      { variantId: variantA, quantity: 2 },
    ]);
    const lines = r.data.cartCreate.lines.map((l: any) => [l.variant.id, l.quantity]).sort();
    expect(lines).toEqual(
      [
        [variantA, 3],
        [variantB, 1],
      ].sort(),
    );
    const two = await cartCreate([
      { variantId: variantA, quantity: 3 },
      { variantId: variantB, quantity: 1 },
    ]);
    expect(r.extensions?.sqlStatements).toBe(two.extensions?.sqlStatements);
    // Lines are written in one statement whatever their number (docs/money-path.md): no more than one line costs.
    expect(r.extensions!.sqlStatements!).toBe(single.extensions!.sqlStatements!);
  });

  test('cartLinesAdd: duplicates add up once; cartLinesUpdate: the last update of a line wins', async () => {
    const cart = (await cartCreate([{ variantId: variantA, quantity: 1 }])).data.cartCreate;
    const added = await t.gql(
      `mutation($c: ID!, $l: [CartLineInput!]!) { cartLinesAdd(cartId: $c, lines: $l) { ... on Cart { ${CART} } } }`,
      {
        c: cart.id,
        l: [
          { variantId: variantA, quantity: 2 },
          { variantId: variantA, quantity: 4 },
        ],
      },
    );
    expect(added.data.cartLinesAdd.lines.map((l: any) => l.quantity)).toEqual([7]);
    const lineId = cart.lines[0].id;
    const updated = await t.gql(
      `mutation($c: ID!, $l: [CartLineUpdateInput!]!) { cartLinesUpdate(cartId: $c, lines: $l) { ... on Cart { ${CART} } } }`,
      {
        c: cart.id,
        l: [
          { lineId, quantity: 9 },
          { lineId, quantity: 0 },
          { lineId, quantity: 5 },
        ],
      },
    );
    expect(updated.data.cartLinesUpdate.lines.map((l: any) => l.quantity)).toEqual([5]);
  });
});

describe('control characters in text inputs', () => {
  const SIGN_UP = `mutation($i: SignUpInput!) { signUp(input: $i) { __typename } }`;

  test('a NUL in signUp.name is BAD_USER_INPUT (400), not a 500, and no account is created', async () => {
    const email = `nul-${Date.now()}@test.local`;
    const r = await t.gql(SIGN_UP, { i: { email, password: 'long-enough-password', name: 'Eve\u0000' } });
    expect(r.status).toBe(400);
    expect(r.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0].message).toMatch(/control characters \(\$i\.name\)/);
    const rows = await t.app.orm.em
      .fork()
      .getConnection()
      .execute('select 1 from app_user where email = ?', [email]);
    expect(rows).toHaveLength(0);
  });

  test('in a literal, in a nested list, and over every other control character alike; tabs and newlines pass', async () => {
    const literal = await t.gql(
      `mutation { signUp(input: { email: "x@test.local", password: "long-enough-password", name: "a\\u0007b" }) { __typename } }`,
    );
    expect(literal.status).toBe(400);
    expect(literal.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const nested = await t.gql(`query($f: ProductFilter) { products(filter: $f) { totalCount } }`, {
      f: { attributes: [{ name: 'size', values: ['S', 'M\u001b[31m'] }] },
    });
    expect(nested.status).toBe(400);
    expect(nested.errors?.[0].message).toMatch(/\$f\.attributes\[0\]\.values\[1\]/);
    const fine = await t.gql(`query($f: ProductFilter) { products(filter: $f) { totalCount } }`, {
      f: { query: 'line one\n\tline two' },
    });
    expect(fine.errors).toBeUndefined();
  });
});

describe('logged driver errors', () => {
  test('carry neither the SQL text with its values nor the parameters', async () => {
    const secret = '$argon2id$v=19$m=19456,t=2,p=1$SECRET-SALT$SECRET-HASH';
    let caught: unknown;
    try {
      await t.app.orm.em
        .fork()
        .getConnection()
        .execute(`insert into app_user (email, password_hash, name) values (?, ?, ?)`, [
          'leak@test.local',
          secret,
          'Eve\u0000',
        ]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(Error);
    // Unprotected, the driver's message holds the statement with the hash in it.
    expect(String((caught as Error).message)).toContain('SECRET-HASH');

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('error', sink);
    log.error({ err: caught }, 'unhandled error in GraphQL operation');
    await new Promise((r) => setImmediate(r));
    const logged = lines.join('');
    expect(logged).toContain('unhandled error in GraphQL operation');
    expect(logged).not.toContain('SECRET');
    expect(logged).not.toContain('leak@test.local');
    expect(logged).not.toMatch(/insert into/i);
    expect(JSON.parse(logged).err.message).toMatch(/^\[SQL statement redacted\] - /);
  });
});
