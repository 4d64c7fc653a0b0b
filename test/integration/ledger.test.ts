import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { inTransaction, Rollback } from '../../src/db/transaction';
import {
  AccountKind,
  FEE_REVENUE,
  InsufficientFunds,
  LedgerConflict,
  LedgerEntryKind,
  LedgerService,
  merchantAvailable,
  merchantEscrow,
  OwnerType,
  PostingKind,
  PROVIDER_CLEARING,
  refundFeeShare,
  splitFee,
  userAvailable,
  type AccountRef,
  type PostResult,
  type PurchasePart,
} from '../../src/modules/ledger/ledger.service';
import { accountKey, stripeFor } from '../../src/modules/ledger/ledger';
import { LEDGER_CHECKS, moneyProblems } from '../support/money-invariants';
import { startTestApp, type TestApp } from '../support/app';

/**
 * The ledger through its service on a real PostgreSQL (DESIGN.md "Consistency rules"): balanced
 * postings with balance_after, idempotency, what the database refuses, and invariants under
 * concurrency and random histories.
 */

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** mulberry32: a seeded PRNG, so a failing history can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('ledger', () => {
  let t: TestApp;
  const ledger = new LedgerService(50);
  const em = () => t.app.orm.em.fork() as unknown as EntityManager;
  /** Raw SQL outside any transaction (knex `?` bindings). */
  const sql = async (q: string, params: unknown[] = []) =>
    (await t.app.orm.em.fork().getConnection().execute(q, params)) as any[];
  const one = async (q: string, params: unknown[] = []) => (await sql(q, params))[0];
  const tx = <T>(fn: (tx: EntityManager) => Promise<T>) => inTransaction(em(), fn);
  let seq = 0;
  const newUser = async (): Promise<string> =>
    String(
      (
        await one(
          `insert into app_user (email, password_hash, name) values (?, 'x', 'Ledger user') returning id`,
          [`ledger-${++seq}-${Date.now()}@test.local`],
        )
      ).id,
    );
  const newMerchant = async (): Promise<string> =>
    String((await one(`insert into merchant (name) values (?) returning id`, [`Ledger shop ${++seq}`])).id);
  /** A connection of its own, for statements the service would never make. */
  const rawClient = async () => {
    const c = new Client({ connectionString: t.app.config.databaseUrl });
    await c.connect();
    return c;
  };
  const balanceOf = async (ref: AccountRef) => (await ledger.findAccount(em(), ref))?.balance ?? 0;
  const counts = () =>
    one(`select (select count(*)::int from ledger_posting) as postings, (select count(*)::int from ledger_entry) as entries,
                (select count(*)::int from ledger_account) as accounts`);
  const postingEntries = (postingId: string) =>
    sql(
      // balance_after of the whole account: a striped account's (escrow, fees) is the sum of its stripes'.
      `select a.owner_type, a.owner_id::text, a.kind as account, e.amount::int,
              (select sum(x.b) from ledger_account s cross join lateral (
                  select f.balance_after as b from ledger_entry f where f.account_id = s.id and f.id <= e.id order by f.id desc limit 1) x
                where s.owner_type = a.owner_type and coalesce(s.owner_id, 0) = coalesce(a.owner_id, 0) and s.kind = a.kind)::int as balance_after,
              e.kind, e.reference
         from ledger_entry e join ledger_account a on a.id = e.account_id where e.posting_id = ? order by e.id`,
      [postingId],
    );
  const expectHealthy = async () => expect(await ledger.checkInvariants(em())).toEqual([]);
  /** Runs a purchase, answering 'insufficient' (with the error) when the buyer is short. */
  const attempt = async (fn: () => Promise<PostResult>): Promise<PostResult | InsufficientFunds> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof InsufficientFunds) return e;
      throw e;
    }
  };

  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_SIZE: '20' });
  }, 120_000);
  afterAll(() => t?.stop());

  test('the migration made the platform accounts, empty, and nothing else', async () => {
    expect(
      await sql(
        `select owner_type, owner_id, kind, balance::int from ledger_account where stripe = 0 order by id`,
      ),
    ).toEqual([
      { owner_type: 'PLATFORM', owner_id: null, kind: 'FEE_REVENUE', balance: 0 },
      { owner_type: 'PLATFORM', owner_id: null, kind: 'PROVIDER_CLEARING', balance: 0 },
    ]);
    // The fee account is striped (no one row every sale updates): 16 stripes, all empty.
    expect(
      await sql(`select stripe, balance::int from ledger_account where kind = 'FEE_REVENUE' order by stripe`),
    ).toEqual(range(16).map((stripe) => ({ stripe, balance: 0 })));
    // So is the clearing account (no one row every card payment updates): 16 stripes, all empty.
    expect(
      await sql(
        `select stripe, balance::int from ledger_account where kind = 'PROVIDER_CLEARING' order by stripe`,
      ),
    ).toEqual(range(16).map((stripe) => ({ stripe, balance: 0 })));
    expect(await counts()).toEqual({ postings: 0, entries: 0, accounts: 32 });
    await expectHealthy();
  });

  test('accountOf creates an account once, also when asked concurrently, and only for an owner that exists', async () => {
    const user = await newUser();
    const ids = await Promise.all(
      range(10).map(() => tx((x) => ledger.accountOf(x, OwnerType.USER, user, AccountKind.AVAILABLE))),
    );
    expect(new Set(ids).size).toBe(1);
    expect(await ledger.accountOf(em(), OwnerType.USER, user, AccountKind.AVAILABLE)).toBe(ids[0]);
    expect(
      await one(`select count(*)::int as n from ledger_account where owner_type = 'USER' and owner_id = ?`, [
        user,
      ]),
    ).toEqual({ n: 1 });
    const fee = await ledger.accountOf(em(), OwnerType.PLATFORM, null, AccountKind.FEE_REVENUE);
    expect(fee).toBe(
      String((await one(`select id from ledger_account where kind = 'FEE_REVENUE' and stripe = 0`)).id),
    );
    await expect(ledger.accountOf(em(), OwnerType.USER, '999999999', AccountKind.AVAILABLE)).rejects.toThrow(
      RangeError,
    );
    await expect(ledger.accountOf(em(), OwnerType.MERCHANT, '999999998', AccountKind.ESCROW)).rejects.toThrow(
      RangeError,
    );
    await expect(ledger.accountOf(em(), OwnerType.USER, user, AccountKind.ESCROW)).rejects.toThrow(
      RangeError,
    ); // users have no escrow
    expect(await ledger.balance(em(), ids[0])).toBe(0);
  });

  test('a top-up and a purchase post balanced entries with the right balance_after', async () => {
    const [buyer, m1, m2] = [await newUser(), await newMerchant(), await newMerchant()];
    const clearingBefore = await balanceOf(PROVIDER_CLEARING);
    const feeBefore = await balanceOf(FEE_REVENUE);

    const top = await tx((x) => ledger.topUp(x, buyer, 10_000, 'topup-1'));
    expect(top).toEqual({ posted: true, postingId: expect.any(String) });
    expect(await postingEntries(top.postingId)).toEqual([
      {
        owner_type: 'USER',
        owner_id: buyer,
        account: 'AVAILABLE',
        amount: 10_000,
        balance_after: 10_000,
        kind: 'TOP_UP',
        reference: 'topup-1',
      },
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'PROVIDER_CLEARING',
        amount: -10_000,
        balance_after: clearingBefore - 10_000,
        kind: 'TOP_UP',
        reference: 'topup-1',
      },
    ]);

    const parts: PurchasePart[] = [
      { merchantId: m1, amount: 3000, fee: splitFee(3000, 250).fee, reference: 'order-1' },
      { merchantId: m2, amount: 1999, fee: splitFee(1999, 250).fee, reference: 'order-2' },
    ];
    expect(parts.map((p) => p.fee)).toEqual([75, 49]);
    const buy = await tx((x) =>
      ledger.purchaseWithBalance(x, { buyerId: buyer, reference: 'payment-1', parts }),
    );
    expect(buy.posted).toBe(true);
    expect(await postingEntries(buy.postingId)).toEqual([
      {
        owner_type: 'MERCHANT',
        owner_id: m1,
        account: 'ESCROW',
        amount: 2925,
        balance_after: 2925,
        kind: 'SALE',
        reference: 'order-1',
      },
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'FEE_REVENUE',
        amount: 75,
        balance_after: feeBefore + 75,
        kind: 'PLATFORM_FEE',
        reference: 'order-1',
      },
      {
        owner_type: 'MERCHANT',
        owner_id: m2,
        account: 'ESCROW',
        amount: 1950,
        balance_after: 1950,
        kind: 'SALE',
        reference: 'order-2',
      },
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'FEE_REVENUE',
        amount: 49,
        balance_after: feeBefore + 124,
        kind: 'PLATFORM_FEE',
        reference: 'order-2',
      },
      {
        owner_type: 'USER',
        owner_id: buyer,
        account: 'AVAILABLE',
        amount: -4999,
        balance_after: 5001,
        kind: 'PURCHASE',
        reference: 'payment-1',
      },
    ]);
    expect(await one(`select kind, reference from ledger_posting where id = ?`, [buy.postingId])).toEqual({
      kind: 'PURCHASE',
      reference: 'payment-1',
    });

    const card = await tx((x) =>
      ledger.purchaseWithCard(x, {
        buyerId: buyer,
        reference: 'payment-2',
        parts: [{ merchantId: m1, amount: 1000, fee: 25 }],
      }),
    );
    expect(await postingEntries(card.postingId)).toEqual([
      {
        owner_type: 'MERCHANT',
        owner_id: m1,
        account: 'ESCROW',
        amount: 975,
        balance_after: 3900,
        kind: 'SALE',
        reference: 'payment-2',
      },
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'FEE_REVENUE',
        amount: 25,
        balance_after: feeBefore + 149,
        kind: 'PLATFORM_FEE',
        reference: 'payment-2',
      },
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'PROVIDER_CLEARING',
        amount: -1000,
        balance_after: clearingBefore - 11_000,
        kind: 'PURCHASE',
        reference: 'payment-2',
      },
    ]);

    const release = await tx((x) => ledger.releaseEscrow(x, m1, 2925, 'order-1'));
    expect(await postingEntries(release.postingId)).toEqual([
      {
        owner_type: 'MERCHANT',
        owner_id: m1,
        account: 'AVAILABLE',
        amount: 2925,
        balance_after: 2925,
        kind: 'SALE',
        reference: 'order-1',
      },
      {
        owner_type: 'MERCHANT',
        owner_id: m1,
        account: 'ESCROW',
        amount: -2925,
        balance_after: 975,
        kind: 'SALE',
        reference: 'order-1',
      },
    ]);

    // Half of order 2 back to the buyer's balance; all of the card payment back to the card.
    const half = refundFeeShare(1999, 49, 0, 1000);
    expect(half).toEqual({ fee: 24, net: 976 });
    const r1 = await tx((x) =>
      ledger.refundToBalance(x, {
        reference: 'refund-1',
        buyerId: buyer,
        merchantId: m2,
        amount: 1000,
        fee: half.fee,
        entryReference: 'order-2',
      }),
    );
    expect(await postingEntries(r1.postingId)).toEqual([
      {
        owner_type: 'USER',
        owner_id: buyer,
        account: 'AVAILABLE',
        amount: 1000,
        balance_after: 6001,
        kind: 'REFUND',
        reference: 'order-2',
      },
      {
        owner_type: 'MERCHANT',
        owner_id: m2,
        account: 'ESCROW',
        amount: -976,
        balance_after: 974,
        kind: 'REFUND',
        reference: 'order-2',
      },
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'FEE_REVENUE',
        amount: -24,
        balance_after: feeBefore + 125,
        kind: 'REFUND',
        reference: 'order-2',
      },
    ]);
    const r2 = await tx((x) =>
      ledger.refundToCard(x, {
        reference: 'refund-2',
        buyerId: buyer,
        merchantId: m1,
        amount: 1000,
        fee: 25,
        from: AccountKind.ESCROW,
      }),
    );
    expect(await postingEntries(r2.postingId)).toEqual([
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'PROVIDER_CLEARING',
        amount: 1000,
        balance_after: clearingBefore - 10_000,
        kind: 'REFUND',
        reference: 'refund-2',
      },
      {
        owner_type: 'MERCHANT',
        owner_id: m1,
        account: 'ESCROW',
        amount: -975,
        balance_after: 0,
        kind: 'REFUND',
        reference: 'refund-2',
      },
      {
        owner_type: 'PLATFORM',
        owner_id: null,
        account: 'FEE_REVENUE',
        amount: -25,
        balance_after: feeBefore + 100,
        kind: 'REFUND',
        reference: 'refund-2',
      },
    ]);

    expect(await balanceOf(userAvailable(buyer))).toBe(6001);
    expect(await balanceOf(merchantEscrow(m1))).toBe(0);
    expect(await balanceOf(merchantAvailable(m1))).toBe(2925);
    expect(await balanceOf(merchantEscrow(m2))).toBe(974);
    expect(await balanceOf(FEE_REVENUE)).toBe(feeBefore + 100);
    expect(await balanceOf(PROVIDER_CLEARING)).toBe(clearingBefore - 10_000);

    // The buyer's statement, newest first, two to a page.
    const account = (await ledger.findAccount(em(), userAvailable(buyer)))!;
    expect(await ledger.balance(em(), account.id)).toBe(6001);
    const page1 = await ledger.entries(em(), account.id, 2);
    expect(
      page1.edges.map((e) => [e.node.kind, e.node.amount, e.node.balanceAfter, e.node.reference]),
    ).toEqual([
      ['REFUND', 1000, 6001, 'order-2'],
      ['PURCHASE', -4999, 5001, 'payment-1'],
    ]);
    expect(page1.pageInfo).toEqual({ hasNextPage: true, endCursor: page1.edges[1].cursor });
    expect(page1.edges[0].node).toEqual({
      id: expect.stringMatching(/^\d+$/),
      postingId: r1.postingId,
      accountId: account.id,
      amount: 1000,
      balanceAfter: 6001,
      kind: LedgerEntryKind.REFUND,
      reference: 'order-2',
      createdAt: expect.any(Date),
    });
    const page2 = await ledger.entries(em(), account.id, 2, page1.pageInfo.endCursor);
    expect(page2.edges.map((e) => [e.node.kind, e.node.amount, e.node.balanceAfter])).toEqual([
      ['TOP_UP', 10_000, 10_000],
    ]);
    expect(page2.pageInfo).toEqual({ hasNextPage: false, endCursor: page2.edges[0].cursor });
    expect((await ledger.entries(em(), account.id, 0)).edges).toEqual([]);
    await expect(ledger.entries(em(), account.id, 2, 'not a cursor!')).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const forged = Buffer.from(JSON.stringify(['1 or 1=1'])).toString('base64url');
    await expect(ledger.entries(em(), account.id, 2, forged)).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const huge = Buffer.from(JSON.stringify(['99999999999999999999'])).toString('base64url');
    await expect(ledger.entries(em(), account.id, 2, huge)).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
    await expect(ledger.entries(em(), account.id, 51)).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
    await expect(ledger.balance(em(), '999999999')).rejects.toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
    await expectHealthy();
  });

  test('the same (kind, reference) posts once, also when retried concurrently; a reused reference with other entries is refused', async () => {
    const [user, merchant] = [await newUser(), await newMerchant()];
    const first = await tx((x) => ledger.topUp(x, user, 500, 'topup-twice'));
    const again = await tx((x) => ledger.topUp(x, user, 500, 'topup-twice'));
    expect(again).toEqual({ posted: false, postingId: first.postingId });
    expect(await balanceOf(userAvailable(user))).toBe(500);

    const before = await counts();
    const racing = await Promise.all(
      range(20).map(() => tx((x) => ledger.topUp(x, user, 700, 'topup-race'))),
    );
    expect(racing.filter((r) => r.posted)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.postingId)).size).toBe(1);
    expect(await counts()).toEqual({ ...before, postings: before.postings + 1, entries: before.entries + 2 });
    expect(await balanceOf(userAvailable(user))).toBe(1200);

    // A retried purchase that already spent the balance is a no-op, not a shortage.
    const parts = [{ merchantId: merchant, amount: 1200, fee: 0 }];
    const paid = await tx((x) =>
      ledger.purchaseWithBalance(x, { buyerId: user, reference: 'pay-all', parts }),
    );
    expect(paid.posted).toBe(true);
    expect(
      await tx((x) => ledger.purchaseWithBalance(x, { buyerId: user, reference: 'pay-all', parts })),
    ).toEqual({ posted: false, postingId: paid.postingId });
    expect(await balanceOf(userAvailable(user))).toBe(0);

    // The same reference for a different event is a bug, not a retry.
    await expect(tx((x) => ledger.topUp(x, user, 501, 'topup-twice'))).rejects.toThrow(LedgerConflict);
    await expect(
      tx((x) => ledger.purchaseWithCard(x, { buyerId: user, reference: 'pay-all', parts })),
    ).rejects.toThrow(LedgerConflict);
    // Another kind of posting may use the same reference.
    expect((await tx((x) => ledger.topUp(x, user, 5, 'pay-all'))).posted).toBe(true);
    expect(await balanceOf(userAvailable(user))).toBe(5);
    await expectHealthy();
  });

  test('the database refuses to update or delete entries and postings, or to change accounts beside their balance', async () => {
    const [user, merchant] = [await newUser(), await newMerchant()];
    const { postingId } = await tx((x) => ledger.topUp(x, user, 300, 'topup-immutable'));
    const [entry] = await sql(`select id from ledger_entry where posting_id = ? order by id`, [postingId]);
    const account = (await ledger.findAccount(em(), userAvailable(user)))!;
    const c = await rawClient();
    try {
      const refused = async (statement: string, message: RegExp) => {
        const err = await c.query(statement).then(
          () => null,
          (e) => e,
        );
        expect(err).toMatchObject({ message: expect.stringMatching(message) });
      };
      await refused(
        `update ledger_entry set amount = 1000000 where id = ${entry.id}`,
        /UPDATE on ledger_entry is not allowed, the ledger is append-only/,
      );
      await refused(
        `update ledger_entry set reference = 'other' where id = ${entry.id}`,
        /UPDATE on ledger_entry is not allowed/,
      );
      await refused(
        `delete from ledger_entry where id = ${entry.id}`,
        /DELETE on ledger_entry is not allowed/,
      );
      await refused(`delete from ledger_entry`, /DELETE on ledger_entry is not allowed/);
      await refused(`truncate ledger_entry`, /TRUNCATE on ledger_entry is not allowed/);
      await refused(
        `update ledger_posting set reference = 'x' where id = ${postingId}`,
        /UPDATE on ledger_posting is not allowed/,
      );
      await refused(
        `delete from ledger_posting where id = ${postingId}`,
        /DELETE on ledger_posting is not allowed/,
      );
      await refused(`truncate ledger_posting cascade`, /TRUNCATE on ledger_(posting|entry) is not allowed/);
      await refused(
        `delete from ledger_account where id = ${account.id}`,
        /DELETE of account \d+ is not allowed/,
      );
      await refused(
        `update ledger_account set owner_id = owner_id + 1 where id = ${account.id}`,
        /UPDATE of account \d+ is not allowed/,
      );
      await refused(
        `update ledger_account set kind = 'ESCROW' where id = ${account.id}`,
        /UPDATE of account \d+ is not allowed/,
      );
      // A balance changed without an entry is refused at commit.
      await refused(
        `update ledger_account set balance = balance + 1 where id = ${account.id}`,
        /account \d+ has balance 301, but its entries say 300/,
      );
      // Money created out of nothing in a new account is refused at commit.
      await refused(
        `insert into ledger_account (owner_type, owner_id, kind, balance) values ('MERCHANT', ${merchant}, 'AVAILABLE', 50)`,
        /has balance 50, but its entries say 0/,
      );
      // A user's balance below zero is refused outright.
      await refused(
        `update ledger_account set balance = -1 where id = ${account.id}`,
        /ledger_account_balance_not_negative/,
      );
      // An entry of amount 0 means nothing and is refused.
      await refused(
        `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference) values (${postingId}, ${account.id}, 0, 300, 'ADJUSTMENT', 'x')`,
        /ledger_entry_amount_check/,
      );
    } finally {
      await c.end();
    }
    expect(
      await sql(
        `select amount::int, balance_after::int, reference from ledger_entry where posting_id = ? order by id`,
        [postingId],
      ),
    ).toEqual([
      { amount: 300, balance_after: 300, reference: 'topup-immutable' },
      { amount: -300, balance_after: expect.any(Number), reference: 'topup-immutable' },
    ]);
    expect(await balanceOf(userAvailable(user))).toBe(300);
    await expectHealthy();
  });

  test('an unbalanced posting is refused at commit, even written by raw SQL with correct balances', async () => {
    const [user, merchant] = [await newUser(), await newMerchant()];
    const ua = await ledger.accountOf(em(), OwnerType.USER, user, AccountKind.AVAILABLE);
    const me = await ledger.accountOf(em(), OwnerType.MERCHANT, merchant, AccountKind.ESCROW);
    const before = await counts();
    const c = await rawClient();
    const commitFails = async (statements: string[], message: RegExp) => {
      await c.query('begin');
      for (const s of statements) await c.query(s);
      await expect(c.query('commit')).rejects.toThrow(message);
    };
    try {
      // 100 into the user from nowhere: the balance and balance_after agree, but the posting does not sum to zero.
      await commitFails(
        [
          `insert into ledger_posting (kind, reference) values ('ADJUSTMENT', 'raw-1')`,
          `update ledger_account set balance = balance + 100 where id = ${ua}`,
          `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
             values (currval(pg_get_serial_sequence('ledger_posting', 'id')), ${ua}, 100, 100, 'ADJUSTMENT', 'raw-1')`,
        ],
        /posting \d+ does not balance, its entries sum to 100/,
      );
      // Two entries that almost cancel out.
      await commitFails(
        [
          `insert into ledger_posting (kind, reference) values ('ADJUSTMENT', 'raw-2')`,
          `update ledger_account set balance = balance + 100 where id = ${ua}`,
          `update ledger_account set balance = balance + 99 where id = ${me}`,
          `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
             values (currval(pg_get_serial_sequence('ledger_posting', 'id')), ${ua}, 100, 100, 'ADJUSTMENT', 'raw-2'),
                    (currval(pg_get_serial_sequence('ledger_posting', 'id')), ${me}, 99, 99, 'ADJUSTMENT', 'raw-2')`,
        ],
        /does not balance, its entries sum to 199/,
      );
      // Balanced, but the balances were not moved: balance_after is not the account's balance.
      await commitFails(
        [
          `insert into ledger_posting (kind, reference) values ('ADJUSTMENT', 'raw-3')`,
          `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
             values (currval(pg_get_serial_sequence('ledger_posting', 'id')), ${ua}, 100, 100, 'ADJUSTMENT', 'raw-3'),
                    (currval(pg_get_serial_sequence('ledger_posting', 'id')), ${me}, -100, -100, 'ADJUSTMENT', 'raw-3')`,
        ],
        /account \d+ has balance 0, but its last entry says -?100/,
      );
      // Balanced, and balance_after is the account's balance, but the balance moved by another amount
      // than the entry says: the entry does not continue its account's chain.
      await commitFails(
        [
          `insert into ledger_posting (kind, reference) values ('ADJUSTMENT', 'raw-4')`,
          `update ledger_account set balance = balance + 100 where id = ${ua}`,
          `update ledger_account set balance = balance - 150 where kind = 'PROVIDER_CLEARING' and stripe = 0`,
          `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
             values (currval(pg_get_serial_sequence('ledger_posting', 'id')), ${ua}, 100, 100, 'ADJUSTMENT', 'raw-4'),
                    (currval(pg_get_serial_sequence('ledger_posting', 'id')), (select id from ledger_account where kind = 'PROVIDER_CLEARING' and stripe = 0), -100,
                     (select balance from ledger_account where kind = 'PROVIDER_CLEARING' and stripe = 0), 'ADJUSTMENT', 'raw-4')`,
        ],
        /entry \d+ has balance_after -?\d+, but -?\d+ \+ -100 is -?\d+/,
      );
      // One more entry slipped into an old, committed posting (here with its balance moved too).
      await commitFails(
        [
          `update ledger_account set balance = balance + 1 where id = (select id from ledger_account where kind = 'FEE_REVENUE' and stripe = 0)`,
          `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
             select (select min(id) from ledger_posting), id, 1, balance, 'ADJUSTMENT', 'raw-append' from ledger_account where kind = 'FEE_REVENUE' and stripe = 0`,
        ],
        /posting \d+ does not balance, its entries sum to 1/,
      );
      // A posting without entries would use up its reference while moving nothing.
      await commitFails(
        [`insert into ledger_posting (kind, reference) values ('ADJUSTMENT', 'raw-5')`],
        /posting \d+ \(ADJUSTMENT raw-5\) has fewer than two entries/,
      );
      // The same by hand, done right, is accepted: the rules are about the data, not who writes it.
      await c.query('begin');
      await c.query(`insert into ledger_posting (kind, reference) values ('ADJUSTMENT', 'raw-ok')`);
      await c.query(`update ledger_account set balance = balance + 100 where id = ${ua}`);
      await c.query(
        `update ledger_account set balance = balance + 100 where id = (select id from ledger_account where kind = 'FEE_REVENUE' and stripe = 0)`,
      );
      await c.query(
        `update ledger_account set balance = balance - 200 where id = (select id from ledger_account where kind = 'PROVIDER_CLEARING' and stripe = 0)`,
      );
      await c.query(
        `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
         select currval(pg_get_serial_sequence('ledger_posting', 'id')), a.id, d.amount, a.balance, 'ADJUSTMENT', 'raw-ok'
           from ledger_account a join (values (${ua}::bigint, 100), ((select id from ledger_account where kind = 'FEE_REVENUE' and stripe = 0), 100),
                                             ((select id from ledger_account where kind = 'PROVIDER_CLEARING' and stripe = 0), -200)) d(id, amount) on d.id = a.id`,
      );
      await c.query('commit');
    } finally {
      await c.end();
    }
    expect(await counts()).toEqual({ ...before, postings: before.postings + 1, entries: before.entries + 3 });
    expect(await balanceOf(userAvailable(user))).toBe(100);
    expect(await balanceOf(merchantEscrow(merchant))).toBe(0);
    await expectHealthy();

    // The service refuses unbalanced lines before touching the database, and runs only in a transaction.
    await expect(
      tx((x) =>
        ledger.post(x, {
          kind: PostingKind.ADJUSTMENT,
          reference: 'unbalanced',
          lines: [
            { account: userAvailable(user), amount: 10, entryKind: LedgerEntryKind.ADJUSTMENT },
            { account: FEE_REVENUE, amount: -9, entryKind: LedgerEntryKind.ADJUSTMENT },
          ],
        }),
      ),
    ).rejects.toThrow(/does not balance: its lines sum to 1/);
    await expect(ledger.topUp(em(), user, 1, 'no-transaction')).rejects.toThrow(/only inside a transaction/);
    expect(await counts()).toEqual({ ...before, postings: before.postings + 1, entries: before.entries + 3 });
  });

  test('overdrawing fails with the balance, and nothing is written', async () => {
    const [user, merchant, fresh] = [await newUser(), await newMerchant(), await newMerchant()];
    await tx((x) => ledger.topUp(x, user, 100, 'topup-overdraw'));
    await tx((x) =>
      ledger.purchaseWithBalance(x, {
        buyerId: user,
        reference: 'buy-40',
        parts: [{ merchantId: merchant, amount: 40, fee: 4 }],
      }),
    );
    const before = await counts();
    const feeBefore = await balanceOf(FEE_REVENUE);

    const err = await tx((x) =>
      ledger.purchaseWithBalance(x, {
        buyerId: user,
        reference: 'buy-61',
        parts: [{ merchantId: fresh, amount: 61, fee: 6 }],
      }),
    ).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(InsufficientFunds);
    expect(err).toMatchObject({
      balance: 60,
      needed: 61,
      account: userAvailable(user),
      accountId: (await ledger.findAccount(em(), userAvailable(user)))!.id,
    });
    // Not even the merchant's new escrow account was kept.
    expect(await counts()).toEqual(before);
    expect(await ledger.findAccount(em(), merchantEscrow(fresh))).toBeNull();
    expect(await balanceOf(userAvailable(user))).toBe(60);
    expect(await balanceOf(FEE_REVENUE)).toBe(feeBefore);

    // The pattern for callers: turn it into the result inside the transaction, which rolls back.
    const result = await inTransaction<PostResult, { errorCode: string; balance: number }>(
      em(),
      async (x) => {
        await ledger.releaseEscrow(x, merchant, 36, 'release-before-shortage'); // rolled back with the rest
        try {
          return await ledger.purchaseWithBalance(x, {
            buyerId: user,
            reference: 'buy-61',
            parts: [{ merchantId: merchant, amount: 61, fee: 0 }],
          });
        } catch (e) {
          if (e instanceof InsufficientFunds)
            throw new Rollback({ errorCode: 'INSUFFICIENT_FUNDS', balance: e.balance });
          throw e;
        }
      },
    );
    expect(result).toEqual({ errorCode: 'INSUFFICIENT_FUNDS', balance: 60 });
    expect(await counts()).toEqual(before);
    expect(await balanceOf(merchantEscrow(merchant))).toBe(36);

    // Merchants cannot give back more than they hold either.
    await expect(
      tx((x) =>
        ledger.refundToBalance(x, {
          reference: 'refund-too-much',
          buyerId: user,
          merchantId: merchant,
          amount: 41,
          fee: 4,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InsufficientFunds',
      balance: 36,
      needed: 37,
      account: merchantEscrow(merchant),
    });
    expect(
      await tx((x) =>
        ledger.purchaseWithBalance(x, {
          buyerId: user,
          reference: 'buy-60',
          parts: [{ merchantId: merchant, amount: 60, fee: 0 }],
        }),
      ),
    ).toMatchObject({ posted: true });
    expect(await balanceOf(userAvailable(user))).toBe(0);
    await expectHealthy();
  });

  test('500 concurrent one-unit balance purchases against a balance of 100: exactly 100 succeed', async () => {
    const [buyer, merchant] = [await newUser(), await newMerchant()];
    await tx((x) => ledger.topUp(x, buyer, 100, 'topup-race-100'));
    await ledger.accountOf(em(), OwnerType.MERCHANT, merchant, AccountKind.ESCROW);
    const before = await counts();

    const results = await Promise.all(
      range(500).map((i) =>
        attempt(() =>
          tx((x) =>
            ledger.purchaseWithBalance(x, {
              buyerId: buyer,
              reference: `race-${i}`,
              parts: [{ merchantId: merchant, amount: 1, fee: 0 }],
            }),
          ),
        ),
      ),
    );
    const won = results.filter((r): r is PostResult => !(r instanceof InsufficientFunds));
    const lost = results.filter((r): r is InsufficientFunds => r instanceof InsufficientFunds);
    expect(won).toHaveLength(100);
    expect(won.every((r) => r.posted)).toBe(true);
    expect(new Set(won.map((r) => r.postingId)).size).toBe(100);
    expect(lost).toHaveLength(400);
    // Every loser ran after the 100th unit was spent (nothing comes back in this race).
    expect(lost.every((e) => e.balance === 0 && e.needed === 1)).toBe(true);

    expect(await balanceOf(userAvailable(buyer))).toBe(0);
    expect(await balanceOf(merchantEscrow(merchant))).toBe(100);
    expect(await counts()).toEqual({
      ...before,
      postings: before.postings + 100,
      entries: before.entries + 200,
    });
    // Never negative: the buyer's entries step down 99, 98, …, 0, each once.
    const steps = await sql(
      `select e.balance_after::int as b from ledger_entry e join ledger_account a on a.id = e.account_id
        where a.owner_type = 'USER' and a.owner_id = ? and e.kind = 'PURCHASE' order by e.id`,
      [buyer],
    );
    expect(steps.map((s) => s.b)).toEqual(range(100).map((i) => 99 - i));
    await expectHealthy();
  });

  test('concurrent card purchases, top-ups, card refunds and refund-to-balance adjustments spread over the clearing stripes; its balance is their sum', async () => {
    const [buyer, m1, m2] = [await newUser(), await newMerchant(), await newMerchant()];
    await ledger.accountOf(em(), OwnerType.USER, buyer, AccountKind.AVAILABLE);
    for (const m of [m1, m2]) await ledger.accountOf(em(), OwnerType.MERCHANT, m, AccountKind.ESCROW);
    const clearingBefore = await balanceOf(PROVIDER_CLEARING);
    const N = 40;
    const card = (i: number) => ({
      buyerId: buyer,
      reference: `clearing-card-${i}`,
      parts: [{ merchantId: i % 2 ? m1 : m2, amount: 1000 + i, fee: 10, reference: `clearing-order-${i}` }],
    });
    const first = await Promise.all(
      range(N).map((i) =>
        tx((x) =>
          i % 4 === 3
            ? ledger.topUp(x, buyer, 100 + i, `clearing-topup-${i}`)
            : ledger.purchaseWithCard(x, card(i)),
        ),
      ),
    );
    expect(first.every((r) => r.posted)).toBe(true);
    const cards = range(N).filter((i) => i % 4 !== 3);
    const topUps = range(N).filter((i) => i % 4 === 3);
    const refunded = cards.filter((i) => i % 2 === 0); // m2's orders
    // Half of the card purchases refunded to the card, concurrently with adjustments that move money
    // from clearing to the buyer (what refundResolve TO_BALANCE posts) and with retries.
    const second = await Promise.all([
      ...refunded.map((i) =>
        tx((x) =>
          ledger.refundToCard(x, {
            reference: `clearing-refund-${i}`,
            buyerId: buyer,
            merchantId: m2,
            amount: 500,
            fee: 5,
            entryReference: `clearing-order-${i}`,
          }),
        ),
      ),
      ...range(6).map((i) =>
        tx((x) =>
          ledger.post(x, {
            kind: PostingKind.ADJUSTMENT,
            reference: `clearing-to-balance-${i}`,
            lines: [
              { account: PROVIDER_CLEARING, amount: -7, entryKind: LedgerEntryKind.ADJUSTMENT },
              { account: userAvailable(buyer), amount: 7, entryKind: LedgerEntryKind.REFUND },
            ],
          }),
        ),
      ),
    ]);
    expect(second.every((r) => r.posted)).toBe(true);
    // A retry finds the earlier posting, whichever stripe it went to.
    expect(await tx((x) => ledger.purchaseWithCard(x, card(0)))).toEqual({
      posted: false,
      postingId: first[0].postingId,
    });

    // Every clearing entry is on the stripe its reference hashes to, debits included: many rows, not one.
    const clearingEntries = await sql(
      `select a.stripe, e.amount::int, e.reference from ledger_entry e join ledger_account a on a.id = e.account_id
        where a.kind = 'PROVIDER_CLEARING' and e.reference like 'clearing-%' order by e.id`,
    );
    expect(clearingEntries).toHaveLength(N + refunded.length + 6);
    for (const e of clearingEntries)
      expect([e.reference, e.stripe]).toEqual([e.reference, stripeFor(e.reference)]);
    const touched = new Set(clearingEntries.map((e) => e.stripe));
    expect(touched.size).toBeGreaterThan(1);
    expect(new Set(clearingEntries.filter((e) => e.amount < 0).map((e) => e.stripe)).size).toBeGreaterThan(1);

    // The balance read through the service is the sum of the stripes, and what the postings moved.
    const moved =
      -cards.reduce((sum, i) => sum + 1000 + i, 0) -
      topUps.reduce((sum, i) => sum + 100 + i, 0) +
      refunded.length * 500 -
      6 * 7;
    const stripes = await sql(
      `select stripe, balance::int from ledger_account where kind = 'PROVIDER_CLEARING' order by stripe`,
    );
    expect(stripes.map((r) => r.stripe)).toEqual(range(16));
    const sumOfStripes = stripes.reduce((sum, r) => sum + r.balance, 0);
    expect(sumOfStripes).toBe(clearingBefore + moved);
    const account = (await ledger.findAccount(em(), PROVIDER_CLEARING))!;
    expect(account.balance).toBe(sumOfStripes);
    expect(await ledger.balance(em(), account.id)).toBe(sumOfStripes);
    expect(
      await ledger.balance(
        em(),
        await ledger.accountOf(em(), OwnerType.PLATFORM, null, AccountKind.PROVIDER_CLEARING),
      ),
    ).toBe(sumOfStripes);
    // The newest entry's balanceAfter is the whole account's balance, not its stripe's.
    expect((await ledger.entries(em(), account.id, 1)).edges[0].node.balanceAfter).toBe(sumOfStripes);
    expect(await balanceOf(userAvailable(buyer))).toBe(topUps.reduce((sum, i) => sum + 100 + i, 0) + 6 * 7);
    await expectHealthy();
    expect(await moneyProblems((q) => sql(q), LEDGER_CHECKS)).toEqual([]);
  });

  test('concurrent top-ups, purchases, releases and refunds across the same accounts in both directions never deadlock', async () => {
    const users = [await newUser(), await newUser()];
    const merchants = [await newMerchant(), await newMerchant()];
    // Accounts made beforehand: this test is about the locks of postings.
    for (const u of users) await ledger.accountOf(em(), OwnerType.USER, u, AccountKind.AVAILABLE);
    for (const m of merchants) {
      await ledger.accountOf(em(), OwnerType.MERCHANT, m, AccountKind.ESCROW);
      await ledger.accountOf(em(), OwnerType.MERCHANT, m, AccountKind.AVAILABLE);
    }
    for (const u of users) await tx((x) => ledger.topUp(x, u, 1_000_000, `seed-${u}`));
    for (const u of users) {
      await tx((x) =>
        ledger.purchaseWithBalance(x, {
          buyerId: u,
          reference: `seed-buy-${u}`,
          parts: merchants.map((m) => ({ merchantId: m, amount: 100_000, fee: 1000 })),
        }),
      );
    }
    const expected = new Map<string, number>();
    const read = async () => {
      const refs = [
        ...users.map(userAvailable),
        ...merchants.flatMap((m) => [merchantEscrow(m), merchantAvailable(m)]),
        FEE_REVENUE,
        PROVIDER_CLEARING,
      ];
      return new Map(await Promise.all(refs.map(async (r) => [accountKey(r), await balanceOf(r)] as const)));
    };
    for (const [k, v] of await read()) expected.set(k, v);
    const add = (r: AccountRef, v: number) => expected.set(accountKey(r), expected.get(accountKey(r))! + v);

    // No retries here (a bare transaction): a deadlock would fail the operation.
    const once = <T>(fn: (x: EntityManager) => Promise<T>) =>
      em().transactional((x) => fn(x as EntityManager));
    const ops = range(400).map((i) => {
      const u = users[i % 2];
      const [ma, mb] = i % 4 < 2 ? merchants : [...merchants].reverse();
      switch (i % 5) {
        case 0:
          add(userAvailable(u), 50);
          add(PROVIDER_CLEARING, -50);
          return () => once((x) => ledger.topUp(x, u, 50, `both-top-${i}`));
        case 1:
          // Parts in opposite orders: the lines name the accounts in opposite orders.
          add(userAvailable(u), -30);
          add(merchantEscrow(ma), 18);
          add(merchantEscrow(mb), 9);
          add(FEE_REVENUE, 3);
          return () =>
            once((x) =>
              ledger.purchaseWithBalance(x, {
                buyerId: u,
                reference: `both-buy-${i}`,
                parts: [
                  { merchantId: ma, amount: 20, fee: 2 },
                  { merchantId: mb, amount: 10, fee: 1 },
                ],
              }),
            );
        case 2:
          add(PROVIDER_CLEARING, -25);
          add(merchantEscrow(mb), 24);
          add(FEE_REVENUE, 1);
          return () =>
            once((x) =>
              ledger.purchaseWithCard(x, {
                buyerId: u,
                reference: `both-card-${i}`,
                parts: [{ merchantId: mb, amount: 25, fee: 1 }],
              }),
            );
        case 3:
          // Money the other way: from the merchant (and the fee) back to the buyer.
          add(merchantEscrow(ma), -11);
          add(FEE_REVENUE, -1);
          add(userAvailable(u), 12);
          return () =>
            once((x) =>
              ledger.refundToBalance(x, {
                reference: `both-refund-${i}`,
                buyerId: u,
                merchantId: ma,
                amount: 12,
                fee: 1,
              }),
            );
        default:
          add(merchantEscrow(ma), -7);
          add(merchantAvailable(ma), 7);
          return () => once((x) => ledger.releaseEscrow(x, ma, 7, `both-release-${i}`));
      }
    });
    const results = await Promise.allSettled(ops.map((op) => op()));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(results.every((r) => r.status === 'fulfilled' && r.value.posted)).toBe(true);
    expect(Object.fromEntries(await read())).toEqual(Object.fromEntries(expected));
    await expectHealthy();
  });

  test('a random history of top-ups, purchases, releases, refunds and retries, partly concurrent, keeps every invariant after every step', async () => {
    const rand = prng(20261123);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
    const users = await Promise.all(range(5).map(() => newUser()));
    const merchants = await Promise.all(range(3).map(() => newMerchant()));

    // The model: every balance we expect, and every sold part with what was refunded of it.
    const refs = [
      ...users.map(userAvailable),
      ...merchants.flatMap((m) => [merchantEscrow(m), merchantAvailable(m)]),
      FEE_REVENUE,
      PROVIDER_CLEARING,
    ];
    const expected = new Map<string, number>();
    for (const r of refs) expected.set(accountKey(r), await balanceOf(r));
    const add = (r: AccountRef, v: number) => expected.set(accountKey(r), expected.get(accountKey(r))! + v);
    interface Part {
      buyerId: string;
      merchantId: string;
      card: boolean;
      amount: number;
      fee: number;
      refunded: number;
      feeRefunded: number;
      released: boolean;
      reference: string;
    }
    const parts: Part[] = [];
    const done: { name: string; run: () => Promise<PostResult> }[] = [];
    let n = 0;
    const stats = { posted: 0, insufficient: 0, retried: 0 };

    interface Op {
      name: string;
      run: () => Promise<PostResult>;
      /** Updates the model once the operation is posted. */
      apply: () => void;
      /** A balance purchase: who pays how much. */
      buyer?: string;
      total?: number;
      /** Money into a user's balance (a top-up or a refund to balance). */
      credit?: { user: string; amount: number };
    }
    /** Builds one operation on the state before the step; `apply` updates the model once it is posted. */
    const makeOp = (busy: Set<Part>): Op => {
      const i = ++n;
      const roll = rand();
      const refundable = parts.filter((p) => !busy.has(p) && p.refunded < p.amount);
      const releasable = parts.filter(
        (p) => !busy.has(p) && !p.released && p.amount - p.fee - (p.refunded - p.feeRefunded) > 0,
      );
      if (roll < 0.25) {
        const user = pick(users);
        const amount = int(1, 5000);
        return {
          name: `top-up ${amount} to ${user}`,
          run: () => tx((x) => ledger.topUp(x, user, amount, `rnd-top-${i}`)),
          apply: () => {
            add(userAvailable(user), amount);
            add(PROVIDER_CLEARING, -amount);
          },
          credit: { user, amount },
        };
      }
      if (roll < 0.6) {
        const buyer = pick(users);
        const card = rand() < 0.3;
        const bps = pick([0, 250, 1000, 3333]);
        const sold = range(int(1, 3)).map((k) => {
          const amount = int(1, 3000);
          return {
            merchantId: pick(merchants),
            amount,
            fee: splitFee(amount, bps).fee,
            reference: `rnd-order-${i}-${k}`,
          };
        });
        const total = sold.reduce((s, p) => s + p.amount, 0);
        const input = { buyerId: buyer, reference: `rnd-pay-${i}`, parts: sold };
        return {
          name: `${card ? 'card' : 'balance'} purchase of ${total} by ${buyer}`,
          run: () =>
            tx((x) => (card ? ledger.purchaseWithCard(x, input) : ledger.purchaseWithBalance(x, input))),
          apply: () => {
            add(card ? PROVIDER_CLEARING : userAvailable(buyer), -total);
            for (const p of sold) {
              add(merchantEscrow(p.merchantId), p.amount - p.fee);
              add(FEE_REVENUE, p.fee);
              parts.push({
                buyerId: buyer,
                merchantId: p.merchantId,
                card,
                amount: p.amount,
                fee: p.fee,
                refunded: 0,
                feeRefunded: 0,
                released: false,
                reference: p.reference,
              });
            }
          },
          buyer: card ? undefined : buyer,
          total,
        };
      }
      if (roll < 0.75 && releasable.length) {
        const p = pick(releasable);
        busy.add(p);
        const amount = p.amount - p.fee - (p.refunded - p.feeRefunded);
        return {
          name: `release ${amount} of ${p.reference}`,
          run: () => tx((x) => ledger.releaseEscrow(x, p.merchantId, amount, p.reference)),
          apply: () => {
            add(merchantEscrow(p.merchantId), -amount);
            add(merchantAvailable(p.merchantId), amount);
            p.released = true;
          },
        };
      }
      if (roll < 0.92 && refundable.length) {
        const p = pick(refundable);
        busy.add(p);
        const amount = rand() < 0.4 ? p.amount - p.refunded : int(1, p.amount - p.refunded);
        const share = refundFeeShare(p.amount, p.fee, p.refunded, amount);
        const from = p.released ? AccountKind.AVAILABLE : AccountKind.ESCROW;
        const input = {
          reference: `rnd-refund-${i}`,
          buyerId: p.buyerId,
          merchantId: p.merchantId,
          amount,
          fee: share.fee,
          from,
          entryReference: p.reference,
        } as const;
        return {
          name: `refund ${amount} of ${p.reference} to ${p.card ? 'card' : 'balance'}`,
          run: () => tx((x) => (p.card ? ledger.refundToCard(x, input) : ledger.refundToBalance(x, input))),
          apply: () => {
            add(
              from === AccountKind.ESCROW ? merchantEscrow(p.merchantId) : merchantAvailable(p.merchantId),
              -share.net,
            );
            add(FEE_REVENUE, -share.fee);
            add(p.card ? PROVIDER_CLEARING : userAvailable(p.buyerId), amount);
            p.refunded += amount;
            p.feeRefunded += share.fee;
          },
          credit: p.card ? undefined : { user: p.buyerId, amount },
        };
      }
      if (done.length) {
        const d = pick(done);
        return { name: `retry of ${d.name}`, run: d.run, apply: () => undefined };
      }
      return makeOp(busy);
    };

    for (let step = 0; step < 80; step++) {
      const busy = new Set<Part>();
      const batch = range(rand() < 0.4 ? 1 : int(2, 8)).map(() => makeOp(busy));
      const snapshot = new Map(expected);
      const outcomes = await Promise.all([
        ...batch.map((op) => attempt(op.run)),
        // checked while the step's postings are being made: one snapshot, so it holds mid-flight too
        ledger.checkInvariants(em()),
      ]);
      expect(outcomes.pop()).toEqual([]);
      batch.forEach((op, k) => {
        const r = outcomes[k] as PostResult | InsufficientFunds;
        if (op.buyer) {
          // Whatever order the step ran in, the buyer had at least `low` and at most `high`: short
          // below `low` is impossible, enough above `high` is impossible.
          const had = snapshot.get(accountKey(userAvailable(op.buyer)))!;
          const high =
            had + batch.filter((o) => o.credit?.user === op.buyer).reduce((s, o) => s + o.credit!.amount, 0);
          const low =
            had - batch.filter((o) => o !== op && o.buyer === op.buyer).reduce((s, o) => s + o.total!, 0);
          if (r instanceof InsufficientFunds) expect(low < op.total!).toBe(true);
          else if (!op.name.startsWith('retry')) expect(high >= op.total!).toBe(true);
        }
        if (r instanceof InsufficientFunds) {
          stats.insufficient++;
          expect(op.buyer).toBeDefined();
          expect(r.needed).toBe(op.total);
          expect(r.balance).toBeLessThan(op.total!);
          return;
        }
        if (op.name.startsWith('retry')) {
          stats.retried++;
          expect(r.posted).toBe(false);
          return;
        }
        expect(r.posted).toBe(true);
        stats.posted++;
        op.apply();
        done.push({ name: op.name, run: op.run });
      });
      await expectHealthy();
      const actual = new Map(
        await Promise.all(refs.map(async (r) => [accountKey(r), await balanceOf(r)] as const)),
      );
      expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
    }
    // The history exercised every path.
    expect(n).toBeGreaterThanOrEqual(250);
    expect(stats.posted).toBeGreaterThan(150);
    expect(stats.insufficient).toBeGreaterThan(0);
    expect(stats.retried).toBeGreaterThan(0);
    expect(parts.some((p) => p.released && p.refunded > 0)).toBe(true);
    expect(parts.some((p) => p.refunded === p.amount)).toBe(true);
  });
});
