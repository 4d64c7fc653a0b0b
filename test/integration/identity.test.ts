import { adminToken, createMerchant, signUpCustomer } from '../factories/catalog';
import { codeOf } from '../support/client';
import { ADMIN, startTestApp, type TestApp } from '../support/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.stop());

const SIGN_UP = `mutation($i: SignUpInput!) { signUp(input: $i) {
  __typename ... on AuthPayload { token viewer { id email name roles points merchant { id } } }
  ... on ErrorResult { errorCode message } } }`;
const SIGN_IN = `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
  __typename ... on AuthPayload { token viewer { id email } } ... on ErrorResult { errorCode message } } }`;
const VIEWER = `{ viewer { id email name roles merchant { id name } } }`;

describe('sign-up and sign-in', () => {
  test('a new customer signs up, signs in with any email case, and is the viewer', async () => {
    const up = await t.gql(SIGN_UP, {
      i: { email: 'Ada@Example.com', password: 'correct horse', name: 'Ada' },
    });
    expect(up.data.signUp).toMatchObject({
      __typename: 'AuthPayload',
      viewer: { email: 'ada@example.com', roles: ['CUSTOMER'], points: 0, merchant: null },
    });

    const inn = await t.gql(SIGN_IN, { e: 'ADA@example.com', p: 'correct horse' });
    expect(inn.data.signIn.__typename).toBe('AuthPayload');
    const me = await t.gql(VIEWER, {}, inn.data.signIn.token);
    expect(me.data.viewer).toMatchObject({ email: 'ada@example.com', name: 'Ada', roles: ['CUSTOMER'] });
  });

  test('the same email twice is EMAIL_TAKEN, whatever its case', async () => {
    await t.gql(SIGN_UP, { i: { email: 'twice@example.com', password: 'password-1', name: 'One' } });
    const again = await t.gql(SIGN_UP, {
      i: { email: 'TWICE@example.com', password: 'password-2', name: 'Two' },
    });
    expect(again.data.signUp).toMatchObject({ __typename: 'UserError', errorCode: 'EMAIL_TAKEN' });
  });

  test('twenty concurrent sign-ups with one email create exactly one account', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.gql(SIGN_UP, { i: { email: 'race@example.com', password: 'password-1', name: 'Racer' } }),
      ),
    );
    const kinds = results.map((r) => r.data?.signUp?.__typename ?? codeOf(r));
    expect(kinds.filter((k) => k === 'AuthPayload')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'UserError')).toHaveLength(19);
  });

  test('unknown email and wrong password answer alike, in about the same time', async () => {
    await t.gql(SIGN_UP, { i: { email: 'timing@example.com', password: 'password-1', name: 'T' } });
    const time = async (email: string, password: string) => {
      const start = process.hrtime.bigint();
      const r = await t.gql(SIGN_IN, { e: email, p: password });
      return { r, ms: Number(process.hrtime.bigint() - start) / 1e6 };
    };
    await time('warmup@example.com', 'x'); // the dummy hash is made on first use
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await time('nobody@example.com', 'password-1');
      const b = await time('timing@example.com', 'wrong-password');
      expect(a.r.data.signIn).toEqual({
        __typename: 'UserError',
        errorCode: 'INVALID_CREDENTIALS',
        message: 'Email or password is wrong',
      });
      expect(b.r.data.signIn).toEqual(a.r.data.signIn);
      unknown.push(a.ms);
      wrong.push(b.ms);
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[2];
    // Both paths run one scrypt; without the dummy hash the unknown email would be ~10x faster.
    expect(median(unknown) / median(wrong)).toBeGreaterThan(0.5);
    expect(median(unknown) / median(wrong)).toBeLessThan(2);
  });

  test('malformed email, short password and overlong name are BAD_USER_INPUT', async () => {
    for (const i of [
      { email: 'not-an-email', password: 'password-1', name: 'X' },
      { email: 'short@example.com', password: 'short', name: 'X' },
      { email: 'long@example.com', password: 'password-1', name: 'x'.repeat(101) },
    ]) {
      const r = await t.gql(SIGN_UP, { i });
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.data).toBeFalsy();
    }
  });

  test('a forged or expired token is UNAUTHENTICATED; no token is anonymous', async () => {
    expect((await t.gql(VIEWER)).data.viewer).toBeNull();
    const forged = await t.gql(VIEWER, {}, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.AAAA');
    expect(codeOf(forged)).toBe('UNAUTHENTICATED');
    expect(forged.status).toBe(401);
  });
});

describe('merchants and roles', () => {
  test('the bootstrap admin creates a merchant whose owner signs in as MERCHANT', async () => {
    const admin = await adminToken(t.gql);
    expect((await t.gql(VIEWER, {}, admin)).data.viewer).toMatchObject({
      email: ADMIN.email,
      roles: ['ADMIN'],
    });
    const m = await createMerchant(t.gql, admin, 'Acme Goods');
    const me = await t.gql(VIEWER, {}, m.token);
    expect(me.data.viewer).toMatchObject({ roles: ['MERCHANT'], merchant: { id: m.id, name: 'Acme Goods' } });
  });

  test('merchantCreate is ADMIN only, and an owner email in use is BAD_USER_INPUT with nothing created', async () => {
    const input = {
      name: 'Nope',
      ownerEmail: 'owner-x@example.com',
      ownerPassword: 'password-1',
      ownerName: 'X',
    };
    const M = `mutation($i: MerchantCreateInput!) { merchantCreate(input: $i) { id } }`;
    expect(codeOf(await t.gql(M, { i: input }))).toBe('UNAUTHENTICATED');
    const customer = await signUpCustomer(t.gql);
    expect(codeOf(await t.gql(M, { i: input }, customer.token))).toBe('FORBIDDEN');

    const admin = await adminToken(t.gql);
    const taken = await t.gql(M, { i: { ...input, ownerEmail: customer.email } }, admin);
    expect(codeOf(taken)).toBe('BAD_USER_INPUT');
    const [{ n }] = await t.app.orm.em
      .fork()
      .getConnection()
      .execute(`select count(*)::int as n from merchant where name = 'Nope'`);
    expect(n).toBe(0);
  });
});
