import { Writable } from 'node:stream';
import { adminToken, createMerchant, createProduct, signIn } from '../factories/catalog';
import { createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { createLogger } from '../../src/server/protection/log';
import { CODE_PREFIX } from '../../src/modules/identity/signup.mails';
import type { Mail, Mailer } from '../../src/modules/mail/mailer';

/**
 * Issue 12, "signUp tells whether an email exists" (docs/accounts.md): with SIGNUP_VERIFICATION=email
 * a taken and a new address get the same answer in the same time; the account is created from the
 * mailed code, once.
 */

interface LoggedMail {
  to: string;
  kind: string;
  subject: string;
  text: string;
}
const mails: LoggedMail[] = [];
/** The server's log, as a developer's console would show it: the log mailer writes every mail there. */
const logSink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n')) {
      if (!line.includes('"mail"')) continue;
      const entry = JSON.parse(line) as { mail?: LoggedMail };
      if (entry.mail?.text !== undefined) mails.push(entry.mail);
    }
    done();
  },
});

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp(
    {
      SIGNUP_VERIFICATION: 'email',
      SIGNUP_CONFIRM_URL: 'https://shop.example.com/account/confirm',
      MAIL_MAX_PER_ADDRESS_PER_HOUR: '3',
      // Each test signs up from an address of its own (X-Forwarded-For), so lockouts stay apart.
      TRUST_PROXY: 'loopback',
      SIGNIN_MAX_FAILURES: '2',
    },
    createLogger('info', logSink),
  );
  admin = await adminToken(t.gql);
});
afterAll(() => t?.stop());

const sql = async (q: string, params: unknown[] = []) =>
  (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];

/** A request from `ip`, with the raw body text (answers are compared byte for byte). */
async function post(ip: string, query: string, variables: Record<string, unknown>, token?: string) {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': ip,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

const SIGN_UP = `mutation($i: SignUpInput!) { signUp(input: $i) {
  __typename ... on SignUpPending { email message } ... on AuthPayload { token }
  ... on UserError { errorCode message field } } }`;
const CONFIRM = `mutation($t: String!, $c: ID) { signUpConfirm(token: $t, cartId: $c) {
  __typename ... on AuthPayload { token viewer { id email name roles } cart { id itemCount } }
  ... on UserError { errorCode message field } } }`;

const signUp = (ip: string, email: string, password = 'tulip-harbour-91', name = 'Ada') =>
  post(ip, SIGN_UP, { i: { email, password, name } });
const confirm = async (ip: string, token: string, cartId?: string) => {
  const r = await post(ip, CONFIRM, { t: token, c: cartId ?? null });
  return r.body.data?.signUpConfirm ?? r.body;
};

let seq = 0;
const fresh = (tag: string) => `${tag}-${process.pid}-${++seq}@test.local`;

/** The mails logged for `to` so far, waiting up to 5 s for the `n`th. */
async function mailsTo(to: string, n = 1): Promise<LoggedMail[]> {
  const until = Date.now() + 5000;
  for (;;) {
    const found = mails.filter((m) => m.to === to);
    if (found.length >= n || Date.now() > until) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}
const codeOf = (m: LoggedMail) => m.text.split(CODE_PREFIX)[1]?.split('\n')[0] ?? '';

/** A customer made through the whole flow. */
async function confirmedCustomer(ip: string, email: string, password = 'tulip-harbour-91') {
  await signUp(ip, email, password);
  const [mail] = await mailsTo(email);
  const r = await confirm(ip, codeOf(mail));
  expect(r.__typename).toBe('AuthPayload');
  return r;
}

describe('signUp with SIGNUP_VERIFICATION=email', () => {
  test('a taken and a new address get byte-identical answers (but the address), with the same SQL statements', async () => {
    const taken = fresh('taken');
    await confirmedCustomer('10.0.0.1', taken);
    // Same length as `taken` (same digit count too), so the only difference is the address itself.
    const newAddr = taken.replace(/^taken/, 'fresh');
    const a = await signUp('10.0.0.1', taken, 'another-secret-77', 'Mallory');
    const b = await signUp('10.0.0.1', newAddr, 'another-secret-77', 'Mallory');
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.data.signUp).toEqual({
      __typename: 'SignUpPending',
      email: taken,
      message: 'Check your inbox: we sent a mail to this address to finish signing up.',
    });
    // Everything else, extensions (cost, SQL statements) included, is the same byte for byte.
    expect(b.text.split(newAddr).join('<email>')).toBe(a.text.split(taken).join('<email>'));
    expect(a.body.extensions.sqlStatements).toBeGreaterThan(0);
  });

  test('the owner of a taken address gets a "someone tried" mail, never a code; the account is unchanged', async () => {
    const email = fresh('owner');
    const first = await confirmedCustomer('10.0.0.2', email, 'original-secret-1');
    const before = await sql(`select password_hash, name, token_version from app_user where email = ?`, [
      email,
    ]);
    const again = await signUp('10.0.0.2', email.toUpperCase(), 'attacker-secret-2', 'Mallory');
    expect(again.body.data.signUp.__typename).toBe('SignUpPending');
    const [, warning] = await mailsTo(email, 2);
    expect(warning).toMatchObject({
      kind: 'signup.existing',
      subject: 'Someone tried to create an account with your address',
    });
    expect(warning.text).not.toContain(CODE_PREFIX);
    expect(
      await sql(`select password_hash, name, token_version from app_user where email = ?`, [email]),
    ).toEqual(before);
    // The pending row of a taken address holds no password and cannot be confirmed.
    const pendings = await sql(`select password_hash from signup_pending where email = ? order by id`, [
      email,
    ]);
    expect(pendings.map((p) => p.password_hash === null)).toEqual([true, true]);
    expect(await signIn(t.gql, email, 'original-secret-1')).toBeTruthy();
    const viewer = await t.gql(`{ viewer { id name } }`, {}, first.token);
    expect(viewer.data.viewer).toEqual({ id: first.viewer.id, name: 'Ada' });
  });

  test('the timing of the answer does not tell a taken address from a new one (many tries)', async () => {
    const n = 30;
    // Taken addresses straight in the database: the flow itself is the next test's.
    const hash = (await sql(`select password_hash from app_user where email = ?`, ['admin@test.local']))[0]
      .password_hash;
    await sql(
      `insert into app_user (email, password_hash, name) select 'timing-taken-' || i || '@test.local', ?, 'T'
         from generate_series(1, ?) i`,
      [hash, n],
    );
    const time = async (email: string) => {
      const start = process.hrtime.bigint();
      const r = await signUp('10.0.0.3', email, 'timing-secret-42', 'T');
      expect(r.body.data.signUp.__typename).toBe('SignUpPending');
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    await time('timing-warmup@test.local');
    const taken: number[] = [];
    const fresher: number[] = [];
    for (let i = 1; i <= n; i++) {
      // Alternating, so drift in the machine's load falls on both alike.
      if (i % 2) {
        taken.push(await time(`timing-taken-${i}@test.local`));
        fresher.push(await time(`timing-fresh-${i}@test.local`));
      } else {
        fresher.push(await time(`timing-fresh-${i}@test.local`));
        taken.push(await time(`timing-taken-${i}@test.local`));
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    // Mann-Whitney U: how often a taken try was slower than a new one (0.5 when indistinguishable).
    let wins = 0;
    for (const a of taken) for (const b of fresher) wins += a > b ? 1 : a === b ? 0.5 : 0;
    const auc = wins / (n * n);
    const z = (wins - (n * n) / 2) / Math.sqrt((n * n * (2 * n + 1)) / 12);
    console.log(
      `signUp timing, ${n} tries each: median taken ${median(taken).toFixed(1)} ms, new ${median(fresher).toFixed(1)} ms, ` +
        `P(taken slower) ${auc.toFixed(2)}, z ${z.toFixed(2)}`,
    );
    // Bounds wide enough for a machine shared by many (alternation spreads its noise over both).
    expect(median(taken) / median(fresher)).toBeGreaterThan(0.7);
    expect(median(taken) / median(fresher)).toBeLessThan(1.4);
    // |z| > 3.3 would be a difference at p < 0.001; a loaded machine may add noise, not a side.
    expect(Math.abs(z)).toBeLessThan(3.3);
    // Every try sent its mail, to the owner or to the new address.
    const kinds = (await mailsTo(`timing-taken-${n}@test.local`)).map((m) => m.kind);
    expect(kinds).toEqual(['signup.existing']);
  });
});

describe('signUpConfirm', () => {
  test('signUp → mail → signUpConfirm signs in, merges the anonymous cart, and works once', async () => {
    const m = await createMerchant(t.gql, admin);
    const variantId = (await createProduct(t.gql, m.token)).variantIds[0];
    const cartId = await createCart(t.gql, [{ variantId, quantity: 2 }]);
    const email = fresh('flow');
    const up = await signUp('10.0.1.1', email, 'tulip-harbour-91', 'Grace');
    expect(up.body.data.signUp).toMatchObject({ __typename: 'SignUpPending', email });
    expect(await sql(`select id from app_user where email = ?`, [email])).toHaveLength(0);

    const [mail] = await mailsTo(email);
    expect(mail).toMatchObject({ kind: 'signup.confirm', subject: 'Confirm your new account' });
    const code = codeOf(mail);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mail.text).toContain(`https://shop.example.com/account/confirm?token=${code}`);
    // Only a hash of the code is kept, and the delivered mail's body is emptied.
    expect(await sql(`select 1 from signup_pending where token_hash = ?`, [code])).toHaveLength(0);
    // (The mailer is called inside the delivery's transaction; its commit follows.)
    let outbox: any[] = [];
    for (let i = 0; i < 100; i++) {
      outbox = await sql(`select body, sent_at is not null as sent from mail_outbox where recipient = ?`, [
        email,
      ]);
      if (outbox[0]?.sent) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(outbox).toEqual([{ body: '', sent: true }]);

    const ok = await confirm('10.0.1.1', code, cartId);
    expect(ok).toMatchObject({
      __typename: 'AuthPayload',
      viewer: { email, name: 'Grace', roles: ['CUSTOMER'] },
      cart: { itemCount: 2 },
    });
    const me = await t.gql(`{ viewer { email } }`, {}, ok.token);
    expect(me.data.viewer.email).toBe(email);
    expect(await signIn(t.gql, email, 'tulip-harbour-91')).toBeTruthy();

    expect(await confirm('10.0.1.1', code)).toMatchObject({
      __typename: 'UserError',
      errorCode: 'SIGNUP_TOKEN_INVALID',
      message: 'This confirmation code was used already; sign in instead',
    });
    expect(await sql(`select count(*)::int as n from app_user where email = ?`, [email])).toEqual([{ n: 1 }]);
  });

  test('an expired code is refused and creates nothing', async () => {
    const email = fresh('expired');
    await signUp('10.0.1.2', email);
    const code = codeOf((await mailsTo(email))[0]);
    await sql(`update signup_pending set expires_at = now() - interval '1 second' where email = ?`, [email]);
    expect(await confirm('10.0.1.2', code)).toMatchObject({
      __typename: 'UserError',
      errorCode: 'SIGNUP_TOKEN_EXPIRED',
      field: 'token',
    });
    expect(await sql(`select id from app_user where email = ?`, [email])).toHaveLength(0);
  });

  test('the newest sign-up of an address wins: an earlier code stops working', async () => {
    const email = fresh('twice');
    await signUp('10.0.1.3', email, 'first-secret-123', 'First');
    await signUp('10.0.1.3', email, 'second-secret-456', 'Second');
    const [older, newer] = await mailsTo(email, 2);
    expect(await confirm('10.0.1.3', codeOf(older))).toMatchObject({ errorCode: 'SIGNUP_TOKEN_INVALID' });
    expect(await confirm('10.0.1.3', codeOf(newer))).toMatchObject({ viewer: { name: 'Second' } });
    expect(await signIn(t.gql, email, 'second-secret-456')).toBeTruthy();
  });

  test('an address taken meanwhile: EMAIL_TAKEN, nothing written, the code stays unused', async () => {
    const email = fresh('meanwhile');
    await signUp('10.0.1.4', email);
    const code = codeOf((await mailsTo(email))[0]);
    const made = await t.gql(
      `mutation($i: MerchantCreateInput!) { merchantCreate(input: $i) { id } }`,
      { i: { name: 'Meanwhile', ownerEmail: email, ownerPassword: 'owner-password', ownerName: 'Owner' } },
      admin,
    );
    expect(made.data.merchantCreate.id).toBeTruthy();
    expect(await confirm('10.0.1.4', code)).toMatchObject({
      __typename: 'UserError',
      errorCode: 'EMAIL_TAKEN',
      field: 'token',
    });
    expect(await sql(`select roles from app_user where email = ?`, [email])).toEqual([
      { roles: ['MERCHANT'] },
    ]);
    expect(
      await sql(`select used_at, password_hash is not null as kept from signup_pending where email = ?`, [
        email,
      ]),
    ).toEqual([{ used_at: null, kept: true }]);
  });

  test('ten concurrent confirms of one code create one account', async () => {
    const email = fresh('race');
    await signUp('10.0.1.5', email);
    const code = codeOf((await mailsTo(email))[0]);
    const results = await Promise.all(Array.from({ length: 10 }, () => confirm('10.0.1.5', code)));
    const kinds = results.map((r) =>
      r.__typename === 'AuthPayload' ? 'ok' : (r.errorCode ?? JSON.stringify(r)),
    );
    expect(kinds.filter((k) => k === 'ok')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'SIGNUP_TOKEN_INVALID')).toHaveLength(9);
    expect(await sql(`select count(*)::int as n from app_user where email = ?`, [email])).toEqual([{ n: 1 }]);
  });

  test('guessed codes count like failed sign-ins: locked out, then even a right code waits', async () => {
    const email = fresh('guess');
    await signUp('10.0.1.6', email);
    const code = codeOf((await mailsTo(email))[0]);
    for (let i = 0; i < 2; i++)
      expect(await confirm('10.0.1.6', `guess-${i}`)).toMatchObject({ errorCode: 'SIGNUP_TOKEN_INVALID' });
    const locked = await post('10.0.1.6', CONFIRM, { t: code, c: null });
    expect(locked.status).toBe(429);
    expect(locked.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    // Another address is not affected.
    expect(await confirm('10.0.1.7', code)).toMatchObject({ __typename: 'AuthPayload' });
  });

  test('mail to one address is capped (MAIL_MAX_PER_ADDRESS_PER_HOUR): same answers, no more mail', async () => {
    const email = fresh('bomb');
    const answers = new Set<string>();
    for (let i = 0; i < 5; i++) answers.add((await signUp('10.0.1.8', email)).text);
    expect(answers.size).toBe(1);
    expect(await sql(`select count(*)::int as n from mail_outbox where recipient = ?`, [email])).toEqual([
      { n: 3 },
    ]);
    // The last code mailed still works: over the cap nothing replaced it.
    const sent = await mailsTo(email, 3);
    expect(await confirm('10.0.1.8', codeOf(sent[2]))).toMatchObject({ __typename: 'AuthPayload' });
  });

  test('one operation holds one signUpConfirm', async () => {
    const r = await post(
      '10.0.1.9',
      `mutation { a: signUpConfirm(token: "x") { __typename } b: signUpConfirm(token: "y") { __typename } }`,
      {},
    );
    expect(r.status).toBe(400);
  });
});

describe('mail outbox', () => {
  test('a mail the mailer refused at once is delivered by its job', async () => {
    const outbox = t.app.services.mail;
    const real = outbox.mailer;
    let refused = 0;
    const flaky: Mailer = {
      async send(mail: Mail, from: string) {
        if (refused++ === 0) throw new Error('mail server away');
        return real.send(mail, from);
      },
    };
    outbox.mailer = flaky;
    try {
      const email = fresh('flaky');
      await signUp('10.0.2.1', email);
      const [mail] = await mailsTo(email);
      expect(refused).toBeGreaterThanOrEqual(2);
      expect(mail.kind).toBe('signup.confirm');
      expect(await confirm('10.0.2.1', codeOf(mail))).toMatchObject({ __typename: 'AuthPayload' });
    } finally {
      outbox.mailer = real;
    }
  });

  test('old mail and spent or expired sign-ups are purged', async () => {
    const email = fresh('purge');
    await signUp('10.0.2.2', email);
    await mailsTo(email);
    const live = fresh('live');
    await signUp('10.0.2.2', live);
    await sql(`update mail_outbox set created_at = now() - interval '8 days' where recipient = ?`, [email]);
    await sql(`update signup_pending set expires_at = now() - interval '2 days' where email = ?`, [email]);
    await t.app.services.signups.purge(t.app.orm.em.fork() as any);
    await t.app.services.mail.purge(t.app.orm.em.fork() as any);
    expect(await sql(`select id from mail_outbox where recipient = ?`, [email])).toHaveLength(0);
    expect(await sql(`select id from signup_pending where email = ?`, [email])).toHaveLength(0);
    expect(await sql(`select id from mail_outbox where recipient = ?`, [live])).toHaveLength(1);
    expect(await sql(`select id from signup_pending where email = ?`, [live])).toHaveLength(1);
  });
});
