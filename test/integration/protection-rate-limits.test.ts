import { request } from 'node:http';
import { callerOf, RateLimits } from '../../src/server/protection/rate-limits';
import { loadConfig } from '../../src/config';
import { adminToken, signUpCustomer } from '../factories/catalog';
import { ADMIN, startTestApp, type TestApp } from '../support/app';
import { wsClient } from '../support/ws';

/** Rate limits per IP (anonymous) and per user, 429 + Retry-After + RateLimit-*, and over graphql-ws. */
let t: TestApp;

async function post(url: string, query: string, variables: object = {}, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('per IP for anonymous callers, per user for signed-in ones', () => {
  let customerA: string;
  let customerB: string;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_IP_PER_MINUTE: '8', RATE_LIMIT_USER_PER_MINUTE: '3' });
    // Sign-ups and sign-ins count against the IP: 3 of the 8.
    customerA = (await signUpCustomer(t.gql)).token;
    customerB = (await signUpCustomer(t.gql)).token;
    await adminToken(t.gql);
  });
  afterAll(() => t?.stop());

  test('a user has a window of their own: 3 operations, then 429 with Retry-After; another user is unaffected', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await post(t.url, `{ viewer { id } }`, {}, customerA);
      expect(r.status).toBe(200);
      expect(r.headers.get('ratelimit-limit')).toBe('3');
      expect(r.headers.get('ratelimit-remaining')).toBe(String(2 - i));
      expect(Number(r.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    const over = await post(t.url, `{ viewer { id } }`, {}, customerA);
    expect(over.status).toBe(429);
    expect(over.body.data).toBeUndefined();
    expect(over.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(over.headers.get('ratelimit-remaining')).toBe('0');
    expect(over.body.extensions.sqlStatements).toBe(0);

    // A mutation over the limit is not executed either.
    const m = await post(t.url, `mutation { cartCreate { ... on Cart { id } } }`, {}, customerA);
    expect(m.status).toBe(429);
    expect(m.body.data).toBeUndefined();

    const other = await post(t.url, `{ viewer { id } }`, {}, customerB);
    expect(other.status).toBe(200);
  });

  test('anonymous callers share their IP window; the ninth operation in a minute is refused', async () => {
    // 3 used by the sign-ups and the admin sign-in above.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(t.url, `{ categories { id } }`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  test('over graphql-ws an operation over the limit gets RATE_LIMITED', async () => {
    const client = wsClient(t.url, customerB);
    try {
      const run = () =>
        new Promise<any>((resolve) => {
          let out: any = {};
          client.subscribe(
            { query: `{ viewer { id } }` },
            {
              next: (v) => (out = v),
              error: (e) => resolve({ errors: Array.isArray(e) ? e : [e] }),
              complete: () => resolve(out),
            },
          );
        });
      // customerB used 1 of 3 over HTTP.
      expect((await run()).data.viewer.id).toBeDefined();
      expect((await run()).data.viewer.id).toBeDefined();
      const refused = await run();
      expect(refused.errors[0].extensions.code).toBe('RATE_LIMITED');
    } finally {
      await client.dispose();
    }
  });
});

describe('sign-in protection', () => {
  let s: TestApp;
  let email: string;
  const SIGN_IN = `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) {
    ... on AuthPayload { token } ... on ErrorResult { errorCode } } }`;
  beforeAll(async () => {
    s = await startTestApp({
      SIGNIN_MAX_FAILURES: '3',
      SIGNIN_LOCKOUT_SECONDS: '3',
      SIGNIN_CONCURRENT_PER_IP: '2',
    });
    email = (await signUpCustomer(s.gql)).email;
  });
  afterAll(() => s?.stop());

  const attempt = async (password: string) => {
    const started = performance.now();
    const r = await post(s.url, SIGN_IN, { e: email, p: password });
    return { ...r, ms: performance.now() - started };
  };

  /** The same request from another source address (127.0.0.2 is loopback too). */
  const fromElsewhere = (password: string) =>
    new Promise<any>((resolve, reject) => {
      const body = JSON.stringify({ query: SIGN_IN, variables: { e: email, p: password } });
      const req = request(
        s.url,
        { method: 'POST', localAddress: '127.0.0.2', headers: { 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  test('failures are slowed, then locked out; the right password works from elsewhere and after the lockout', async () => {
    const first = await attempt('wrong-password-1');
    expect(first.body.data.signIn.errorCode).toBe('INVALID_CREDENTIALS');
    const second = await attempt('wrong-password-2');
    expect(second.body.data.signIn.errorCode).toBe('INVALID_CREDENTIALS');
    const third = await attempt('wrong-password-3');
    expect(third.body.data.signIn.errorCode).toBe('INVALID_CREDENTIALS');
    // Each failure is answered later than the one before: 222 ms, 889 ms, 2 s of added delay.
    expect(second.ms).toBeGreaterThan(first.ms);
    expect(third.ms).toBeGreaterThan(1900);

    // Locked out: even the right password is refused, before it is checked.
    const locked = await attempt('password-123');
    expect(locked.status).toBe(429);
    expect(locked.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(3);

    // The owner, from another address, is not locked out by someone else's guesses.
    const elsewhere = await fromElsewhere('password-123');
    expect(elsewhere.data.signIn.token).toEqual(expect.any(String));

    await new Promise((r) => setTimeout(r, 3200));
    const after = await attempt('password-123');
    expect(after.status).toBe(200);
    expect(after.body.data.signIn.token).toEqual(expect.any(String));
  });

  test('one IP has at most 2 sign-ins in flight: a burst of 6 at once gets RATE_LIMITED for the rest', async () => {
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        post(s.url, SIGN_IN, { e: `burst-${i}@test.local`, p: 'wrong-password' }),
      ),
    );
    const refused = burst.filter((r) => r.status === 429);
    const checked = burst.filter((r) => r.body.data?.signIn?.errorCode === 'INVALID_CREDENTIALS');
    expect(refused.length + checked.length).toBe(6);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(checked.length).toBeGreaterThanOrEqual(2);
    for (const r of refused) expect(r.body.errors[0].extensions.code).toBe('RATE_LIMITED');
  });

  test('one operation holds at most one signIn or signUp (aliases are no way to batch guesses)', async () => {
    const twice = `mutation { a: signIn(email: "${ADMIN.email}", password: "x1") { __typename }
      b: signIn(email: "${ADMIN.email}", password: "x2") { __typename } }`;
    const r = await post(s.url, twice);
    expect(r.status).toBe(400);
    expect(r.body.data).toBeUndefined();
    expect(r.body.errors[0].message).toBe('An operation may hold at most one signIn or signUp, found 2.');
    const mixed = `mutation { ...F b: signUp(input: { email: "x@y.test", password: "long-password", name: "x" }) { __typename } }
      fragment F on Mutation { signIn(email: "${ADMIN.email}", password: "x1") { __typename } }`;
    const m = await post(s.url, mixed);
    expect(m.status).toBe(400);
    expect(m.body.errors[0].message).toMatch(/at most one signIn or signUp, found 2/);
    const one = await post(s.url, SIGN_IN, { e: ADMIN.email, p: ADMIN.password });
    expect(one.body.data.signIn.token).toEqual(expect.any(String));
  });
});

describe('partners: a cost bucket', () => {
  test('a principal with a partner id is counted by cost against its bucket, reported as throttle', async () => {
    const config = loadConfig({
      DATA_DIR: '/tmp',
      NODE_ENV: 'test',
      JWT_SECRET: 'x'.repeat(32),
      PAYMENT_WEBHOOK_SECRET: 'x'.repeat(32),
      LOGISTICS_WEBHOOK_SECRET: 'x'.repeat(32),
      PAYMENT_PROVIDER_API_KEY: 'x'.repeat(32),
      PARTNER_COST_BUCKET: '1000',
      PARTNER_COST_RESTORE_PER_SECOND: '50',
    });
    const limits = new RateLimits(config.protection, undefined);
    const partner = callerOf({ userId: '7', roles: [], merchantId: '3', partnerId: '42' } as any, '10.0.0.1');
    expect(partner).toEqual({ kind: 'partner', id: '42' });
    expect(callerOf({ userId: '7', roles: [], merchantId: null }, '10.0.0.1')).toEqual({
      kind: 'user',
      id: '7',
    });
    expect(callerOf(null, '10.0.0.1')).toEqual({ kind: 'ip', id: '10.0.0.1' });

    const a = await limits.consume(partner, 600);
    expect(a.allowed).toBe(true);
    expect(a.throttle).toEqual({ maximumAvailable: 1000, currentlyAvailable: 400, restoreRate: 50 });
    const b = await limits.consume(partner, 600);
    expect(b.allowed).toBe(false);
    expect(b.resetMs).toBeGreaterThan(0);
    expect(b.resetMs).toBeLessThanOrEqual(20_000);
    // Another partner has its own bucket.
    expect((await limits.consume({ kind: 'partner', id: '43' }, 600)).allowed).toBe(true);
  });
});
