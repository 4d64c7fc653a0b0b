import { randomBytes } from 'node:crypto';
import { sqlAll } from '../../src/db/sql';
import { sign } from '../../src/shared/signature';
import type { ControlsUpdate, ControlsView, PaymentView } from '../../src/sandbox/types';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { startTestApp, type TestApp } from '../support/app';

/**
 * Card payment callbacks and polling against the real server and the sandbox provider running as
 * its own process: signatures, duplicates, reordering, late and lost callbacks, declines, the
 * provider being down, DEDUCT_ON_PAYMENT stock running out, and paymentStart's idempotency.
 *
 * Every shop built here has two merchants: A sells 2 × 20.00 and B 1 × 15.00 (no shipping fee,
 * a 10 % platform fee), so a checkout costs 55.00 and a sale credits A's escrow 36.00 and B's 13.50.
 */

const SECRET = 'test-payment-secret-0123456789';
const BASE_ENV = { SHIPPING_FEE: '0', PLATFORM_FEE_BPS: '1000' };
const hex = () => randomBytes(6).toString('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);

const ORDER_CANCEL = `mutation($o: ID!) { orderCancel(orderId: $o) { __typename ... on Order { status } ... on ErrorResult { errorCode } } }`;
const ORDER_REFUND = `mutation($o: ID!, $a: String!, $k: String!) { orderRefund(orderId: $o, amount: $a, reason: "test", idempotencyKey: $k) { __typename ... on Order { status } ... on ErrorResult { errorCode message } } }`;
const INVENTORY_SET = `mutation($v: ID!, $n: Int!) { inventorySet(variantId: $v, onHand: $n) { onHand reserved sold available } }`;

interface Shop {
  buyer: { token: string; id: string };
  mA: { id: string; token: string };
  mB: { id: string; token: string };
  vA: string;
  vB: string;
  checkoutId: string;
  orderA: string;
  orderB: string;
}

interface PaymentRowView {
  status: string;
  amount: number;
  refunded: number;
  provider_ref: string | null;
  redirect_url: string | null;
  settled: boolean;
  failure_reason: string | null;
}

/** One running app (server + its sandbox provider process) and the probes the tests use on it. */
class World {
  constructor(
    readonly t: TestApp,
    readonly admin: string,
  ) {}

  static async start(env: Record<string, string>): Promise<World> {
    const t = await startTestApp({ ...BASE_ENV, ...env });
    return new World(t, await adminToken(t.gql));
  }

  get gql() {
    return this.t.gql;
  }

  em(): any {
    return this.t.app.orm.em.fork();
  }

  sql<T = any>(q: string, params: unknown[] = []): Promise<T[]> {
    return sqlAll<T>(this.em(), q, params);
  }

  /** The provider the app's SandboxClient talks to. */
  get providerUrl(): string {
    return (this.t.app.services.payments as any).provider.baseUrl as string;
  }

  get webhookUrl(): string {
    return this.t.url.replace(/\/graphql$/, '/webhooks/payments');
  }

  async control(update?: ControlsUpdate): Promise<ControlsView> {
    const res = await fetch(
      `${this.providerUrl}/control`,
      update === undefined
        ? {}
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(update) },
    );
    expect(res.status).toBe(200);
    return (await res.json()) as ControlsView;
  }

  async providerPayment(ref: string): Promise<PaymentView> {
    const res = await fetch(`${this.providerUrl}/v1/payments/${ref}`, {
      headers: { authorization: `Bearer ${this.t.app.config.paymentProviderApiKey}` },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as PaymentView;
  }

  /** Waits until the provider has no callback delivery under way. */
  async providerIdle(): Promise<ControlsView> {
    let last!: ControlsView;
    await eventually(async () => {
      last = await this.control();
      return last.stats.deliveries.pending === 0;
    });
    return last;
  }

  invariants() {
    return this.t.app.services.ledger.checkInvariants(this.em());
  }

  reconcile(): Promise<number> {
    return this.t.app.services.payments.reconcile(this.em());
  }

  /** Two merchants, one buyer, one checkout of 2 × A (20.00) and 1 × B (15.00). */
  async shop(spec: { policyA?: string; policyB?: string } = {}): Promise<Shop> {
    const mA = await createMerchant(this.gql, this.admin);
    const mB = await createMerchant(this.gql, this.admin);
    const pA = await createProduct(this.gql, mA.token, {
      stockPolicy: spec.policyA,
      variants: [{ price: '20.00', onHand: 5 }],
    });
    const pB = await createProduct(this.gql, mB.token, {
      stockPolicy: spec.policyB,
      variants: [{ price: '15.00', onHand: 5 }],
    });
    const buyer = await signUpCustomer(this.gql);
    const cartId = await createCart(this.gql, [
      { variantId: pA.variantIds[0], quantity: 2 },
      { variantId: pB.variantIds[0], quantity: 1 },
    ]);
    const c = (await checkout(this.gql, buyer.token, cartId, `co-${hex()}`)).data.checkoutCreate;
    expect(c).toMatchObject({ __typename: 'Checkout', total: { amount: '55.00' } });
    const byMerchant = (m: string) => c.orders.find((o: any) => o.merchant.id === m).id as string;
    return {
      buyer,
      mA,
      mB,
      vA: pA.variantIds[0],
      vB: pB.variantIds[0],
      checkoutId: c.id,
      orderA: byMerchant(mA.id),
      orderB: byMerchant(mB.id),
    };
  }

  startPayment(s: Shop, key: string, method = 'CARD') {
    return this.gql(PAYMENT_START, { c: s.checkoutId, m: method, k: key }, s.buyer.token);
  }

  /** paymentStart by card that must answer a PENDING payment with its hosted page. */
  async startCard(s: Shop, key = `pay-${hex()}`): Promise<{ id: string; redirectUrl: string }> {
    const r = await this.startPayment(s, key);
    expect(r.errors).toBeUndefined();
    expect(r.data.paymentStart).toMatchObject({
      __typename: 'Payment',
      status: 'PENDING',
      method: 'CARD',
      amount: { amount: '55.00' },
      refunded: { amount: '0.00' },
    });
    expect(r.data.paymentStart.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/pay\/pay_[0-9a-f]+$/);
    return r.data.paymentStart;
  }

  async payment(id: string): Promise<PaymentRowView> {
    const [p] = await this.sql<any>('select * from payment where id = $1', [id]);
    return {
      status: p.status,
      amount: Number(p.amount),
      refunded: Number(p.refunded),
      provider_ref: p.provider_ref,
      redirect_url: p.redirect_url,
      settled: p.settled_at !== null,
      failure_reason: p.failure_reason,
    };
  }

  async providerRef(paymentId: string): Promise<string> {
    const ref = (await this.payment(paymentId)).provider_ref;
    expect(ref).toMatch(/^pay_[0-9a-f]{24}$/);
    return ref!;
  }

  /** Order statuses as [A, B]. */
  async orderStatuses(s: Shop): Promise<string[]> {
    const rows = await this.sql<{ id: string; status: string }>(
      'select id::text, status from shop_order where checkout_id = $1',
      [s.checkoutId],
    );
    return [s.orderA, s.orderB].map((id) => rows.find((r) => r.id === id)!.status);
  }

  /** Each order's status history from order_event, as [A's, B's]. */
  async orderHistories(s: Shop): Promise<string[][]> {
    const rows = await this.sql<{ order_id: string; status: string }>(
      'select order_id::text, status from order_event where order_id in ($1, $2) order by order_id, seq',
      [s.orderA, s.orderB],
    );
    return [s.orderA, s.orderB].map((id) => rows.filter((r) => r.order_id === id).map((r) => r.status));
  }

  async variant(id: string): Promise<{ on_hand: number; reserved: number; sold: number }> {
    const [v] = await this.sql<any>('select on_hand, reserved, sold from variant where id = $1', [id]);
    return v;
  }

  /** The PURCHASE postings of a payment, each as its sorted entries. */
  async purchases(paymentId: string): Promise<string[][]> {
    const rows = await this.sql<any>(
      `select p.id::text as posting, a.owner_type, a.owner_id::text as owner, a.kind as account, e.amount::int as amount, e.kind
         from ledger_posting p join ledger_entry e on e.posting_id = p.id join ledger_account a on a.id = e.account_id
        where p.kind = 'PURCHASE' and p.reference = $1 order by p.id, e.id`,
      [`payment:${paymentId}`],
    );
    const postings = [...new Set(rows.map((r) => r.posting))];
    return postings.map((id) =>
      rows
        .filter((r) => r.posting === id)
        .map((r) => `${r.owner_type}:${r.owner ?? '-'}:${r.account}:${r.kind}:${r.amount}`)
        .sort(),
    );
  }

  /** Every ledger posting that names the payment or one of its refunds. */
  async postingsOf(paymentId: string): Promise<string[]> {
    const refunds = await this.sql<{ id: string }>('select id::text from refund where payment_id = $1', [
      paymentId,
    ]);
    const refs = [`payment:${paymentId}`, ...refunds.map((r) => `refund:${r.id}`)];
    const rows = await this.sql<{ kind: string; reference: string }>(
      'select kind, reference from ledger_posting where reference = any($1::text[]) order by id',
      [refs],
    );
    return rows.map((r) => `${r.kind} ${r.reference}`);
  }

  /** A merchant's escrow balance; null when the account was never used. */
  async escrow(merchantId: string): Promise<number | null> {
    const [row] = await this.sql<{ balance: number }>(
      // The escrow is striped: its balance is the sum of its stripes (null: never used).
      `select sum(balance)::int as balance from ledger_account where owner_type = 'MERCHANT' and owner_id = $1 and kind = 'ESCROW' having count(*) > 0`,
      [merchantId],
    );
    return row ? row.balance : null;
  }

  async refunds(
    paymentId: string,
  ): Promise<{ order_id: string; amount: number; status: string; provider_ref: string | null }[]> {
    return this.sql(
      'select order_id::text, amount::int, status, provider_ref from refund where payment_id = $1 order by order_id',
      [paymentId],
    );
  }

  async providerEvents(paymentId: string): Promise<string[]> {
    const rows = await this.sql<{ type: string }>(
      'select type from provider_event where payment_id = $1 order by received_at, id',
      [paymentId],
    );
    return rows.map((r) => r.type);
  }

  /** A provider event for one of our payments, as the provider would send it. */
  async event(paymentId: string, type: string): Promise<Record<string, unknown>> {
    const p = await this.payment(paymentId);
    return {
      id: `evt_test_${hex()}`,
      type,
      paymentId: p.provider_ref,
      amount: p.amount,
      currency: 'USD',
      reference: paymentId,
      occurredAt: new Date().toISOString(),
    };
  }

  async postWebhook(body: string, signature?: string): Promise<{ status: number; body: any }> {
    const res = await fetch(this.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(signature === undefined ? {} : { 'x-signature': signature }),
      },
      body,
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  postSigned(event: object, at = nowSeconds(), secret = SECRET) {
    const body = JSON.stringify(event);
    return this.postWebhook(body, sign(secret, body, at));
  }

  /** Everything a stray callback could change, to compare before and after. */
  async snapshot() {
    const [counts] = await this.sql(
      `select (select count(*)::int from payment) as payments,
              (select string_agg(id || ':' || status || ':' || refunded, ',' order by id) from payment) as payment_states,
              (select string_agg(id || ':' || status, ',' order by id) from shop_order) as order_states,
              (select count(*)::int from order_event) as order_events,
              (select count(*)::int from ledger_posting) as postings,
              (select count(*)::int from ledger_entry) as entries,
              (select count(*)::int from refund) as refunds,
              (select string_agg(id || ':' || reserved || ':' || sold, ',' order by id) from variant) as stock`,
    );
    return counts;
  }

  /** The outcome of a paid 55.00 checkout, exactly once, whatever delivered the news. */
  async expectPaidOnce(s: Shop, paymentId: string): Promise<void> {
    expect(await this.payment(paymentId)).toMatchObject({
      status: 'SUCCEEDED',
      amount: 5500,
      refunded: 0,
      settled: true,
      failure_reason: null,
    });
    expect(await this.orderStatuses(s)).toEqual(['PAID', 'PAID']);
    expect(await this.orderHistories(s)).toEqual([
      ['PENDING_PAYMENT', 'PAID'],
      ['PENDING_PAYMENT', 'PAID'],
    ]);
    expect(await this.purchases(paymentId)).toEqual([
      [
        `MERCHANT:${s.mA.id}:ESCROW:SALE:3600`,
        `MERCHANT:${s.mB.id}:ESCROW:SALE:1350`,
        'PLATFORM:-:FEE_REVENUE:PLATFORM_FEE:150',
        'PLATFORM:-:FEE_REVENUE:PLATFORM_FEE:400',
        'PLATFORM:-:PROVIDER_CLEARING:PURCHASE:-5500',
      ].sort(),
    ]);
    expect(await this.postingsOf(paymentId)).toEqual([`PURCHASE payment:${paymentId}`]);
    expect(await this.escrow(s.mA.id)).toBe(3600);
    expect(await this.escrow(s.mB.id)).toBe(1350);
    expect(await this.refunds(paymentId)).toEqual([]);
    expect(await this.variant(s.vA)).toEqual({ on_hand: 5, reserved: 0, sold: 2 });
    expect(await this.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 1 });
    expect(await this.invariants()).toEqual([]);
  }

  /** The card refunds of a payment paid out at the provider, adding up to `total`. */
  async expectRefundedAtProvider(paymentId: string, total: number): Promise<PaymentView> {
    await eventually(async () => (await this.refunds(paymentId)).every((r) => r.status === 'SUCCEEDED'));
    const ref = await this.providerRef(paymentId);
    let remote!: PaymentView;
    await eventually(async () => (remote = await this.providerPayment(ref)).refunded === total);
    expect(remote).toMatchObject({ status: 'SUCCEEDED', amount: 5500, refunded: total });
    const refunds = await this.refunds(paymentId);
    expect(refunds.reduce((sum, r) => sum + r.amount, 0)).toBe(total);
    // Each refund row was paid out once, under its own provider refund.
    expect(remote.refunds.map((r) => r.id).sort()).toEqual(refunds.map((r) => r.provider_ref).sort());
    expect(remote.refunds.map((r) => r.amount).sort()).toEqual(refunds.map((r) => r.amount).sort());
    return remote;
  }
}

// ============================================================================================
// The default app. PAYMENT_POLL_AFTER_SECONDS is at its maximum here, so that the reconcile cron
// never touches these payments: what happens is what the callbacks and the tests make happen.
// ============================================================================================

describe('card payments: callbacks', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.start({ PAYMENT_POLL_AFTER_SECONDS: '3600' });
  });
  afterAll(() => w?.t.stop());
  beforeEach(() => w.control({ reset: true }));
  afterEach(() => w.control({ reset: true }));

  /** A checkout paid at the provider whose callback was dropped: the provider says SUCCEEDED, we say PENDING. */
  async function paidWithLostCallback(s: Shop): Promise<{ id: string; ref: string }> {
    const p = await w.startCard(s);
    const before = (await w.control({ dropCallbacks: 1 })).stats.deliveries.dropped;
    expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
    const after = await w.providerIdle();
    expect(after.stats.deliveries.dropped).toBe(before + 1);
    const ref = await w.providerRef(p.id);
    expect((await w.providerPayment(ref)).status).toBe('SUCCEEDED');
    expect((await w.payment(p.id)).status).toBe('PENDING');
    return { id: p.id, ref };
  }

  describe('POST /webhooks/payments directly', () => {
    let s: Shop;
    let paymentId: string;
    let good: Record<string, unknown>;
    beforeAll(async () => {
      s = await w.shop();
      paymentId = (await paidWithLostCallback(s)).id;
      good = await w.event(paymentId, 'payment.succeeded');
    });

    test('a missing, forged or tampered signature, or a timestamp 301 s old or ahead, is 401 and changes nothing', async () => {
      const before = await w.snapshot();
      const body = JSON.stringify(good);
      const now = nowSeconds();

      expect(await w.postWebhook(body)).toEqual({ status: 401, body: { error: 'bad or missing signature' } });
      expect((await w.postWebhook(body, '')).status).toBe(401);
      expect((await w.postWebhook(body, 't=,v1=')).status).toBe(401);
      // Forged: signed with another secret.
      expect((await w.postWebhook(body, sign('not-the-payment-secret-000000', body, now))).status).toBe(401);
      // Tampered: a valid signature of another body (the amount changed after signing).
      const tampered = JSON.stringify({ ...good, amount: 1 });
      expect((await w.postWebhook(tampered, sign(SECRET, body, now))).status).toBe(401);
      // A body with whitespace added is other bytes: the signature is over the raw body.
      expect((await w.postWebhook(`${body} `, sign(SECRET, body, now))).status).toBe(401);
      // Right signature, wrong timestamp in the header.
      expect(
        (await w.postWebhook(body, sign(SECRET, body, now).replace(`t=${now}`, `t=${now - 1}`))).status,
      ).toBe(401);
      // Stale: 301 s old.
      expect((await w.postWebhook(body, sign(SECRET, body, nowSeconds() - 301))).status).toBe(401);
      // Future-dated: 301 s ahead. Start early in a second so that the server's clock reads the same second.
      await sleep(1000 - (Date.now() % 1000) + 5);
      expect((await w.postWebhook(body, sign(SECRET, body, nowSeconds() + 301))).status).toBe(401);

      expect(await w.snapshot()).toEqual(before);
      expect(await w.providerEvents(paymentId)).toEqual([]);
      expect(await w.payment(paymentId)).toMatchObject({ status: 'PENDING', refunded: 0, settled: false });
      expect(await w.orderStatuses(s)).toEqual(['PENDING_PAYMENT', 'PENDING_PAYMENT']);
    });

    test('malformed JSON (or a body that is no payment event) with a valid signature is 400 and changes nothing', async () => {
      const before = await w.snapshot();
      const malformed = '{"id": "evt_x", "type": "payment.succeeded",';
      expect(await w.postWebhook(malformed, sign(SECRET, malformed, nowSeconds()))).toEqual({
        status: 400,
        body: { error: 'malformed JSON' },
      });
      for (const other of [
        { ...good, type: 'payment.exploded' },
        { ...good, amount: '55.00' },
        { ...good, id: '' },
        [good],
        null,
      ]) {
        expect((await w.postSigned(other as object)).status).toBe(400);
      }
      expect(await w.snapshot()).toEqual(before);
      expect(await w.providerEvents(paymentId)).toEqual([]);
      expect((await w.payment(paymentId)).status).toBe('PENDING');
    });

    test('a valid event for an unknown payment is 200 and changes nothing', async () => {
      const before = await w.snapshot();
      for (const reference of ['999999999999', 'not-a-payment-id']) {
        const ev = { ...good, id: `evt_test_${hex()}`, reference, paymentId: 'pay_000000000000000000000000' };
        expect(await w.postSigned(ev)).toEqual({ status: 200, body: { status: 'ignored' } });
        // Its id is recorded: a repeat is a duplicate.
        expect(await w.postSigned(ev)).toEqual({ status: 200, body: { status: 'duplicate' } });
      }
      expect(await w.snapshot()).toEqual(before);
      expect((await w.payment(paymentId)).status).toBe('PENDING');
      expect(await w.invariants()).toEqual([]);
    });

    test('timestamps 299 s old or ahead are within the tolerance: the signed event settles the payment', async () => {
      expect(await w.postSigned(good, nowSeconds() - 299)).toEqual({
        status: 200,
        body: { status: 'processed' },
      });
      await w.expectPaidOnce(s, paymentId);
      // The same event again, signed 299 s ahead: accepted, a duplicate, nothing changes.
      expect(await w.postSigned(good, nowSeconds() + 299)).toEqual({
        status: 200,
        body: { status: 'duplicate' },
      });
      // Signed with the current and a retired secret (rotation): accepted.
      const again = { ...good, id: `evt_test_${hex()}` };
      const body = JSON.stringify(again);
      expect(
        await w.postWebhook(body, sign(['retired-secret-00000000000', SECRET], body, nowSeconds())),
      ).toEqual({ status: 200, body: { status: 'processed' } });
      await w.expectPaidOnce(s, paymentId);
      expect(await w.providerEvents(paymentId)).toEqual(['payment.succeeded', 'payment.succeeded']);
    });
  });

  describe('duplicated callbacks', () => {
    test('the same signed payment.succeeded posted 10 times at once: all 200, paid once, sold once, one PURCHASE posting', async () => {
      const s = await w.shop({ policyB: 'DEDUCT_ON_PAYMENT' });
      expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 2, sold: 0 });
      expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
      const { id } = await paidWithLostCallback(s);
      const ev = await w.event(id, 'payment.succeeded');
      const body = JSON.stringify(ev);
      const signature = sign(SECRET, body, nowSeconds());
      const answers = await Promise.all(Array.from({ length: 10 }, () => w.postWebhook(body, signature)));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(answers.map((a) => a.body.status).sort()).toEqual(
        ['processed', ...Array(9).fill('duplicate')].sort(),
      );
      await w.expectPaidOnce(s, id);
      expect(await w.providerEvents(id)).toEqual(['payment.succeeded']);
    });

    test('the provider delivering every callback 10 times (duplicateCallbacks=10): paid once', async () => {
      const s = await w.shop({ policyB: 'DEDUCT_ON_PAYMENT' });
      const p = await w.startCard(s);
      const before = (await w.control({ duplicateCallbacks: 10 })).stats.deliveries;
      expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
      const after = (await w.providerIdle()).stats.deliveries;
      // Ten copies, each answered 2xx at its first attempt.
      expect(after.delivered - before.delivered).toBe(10);
      expect(after.attempts - before.attempts).toBe(10);
      expect(after.gaveUp - before.gaveUp).toBe(0);
      await w.expectPaidOnce(s, p.id);
      expect(await w.providerEvents(p.id)).toEqual(['payment.succeeded']);
      const [{ n }] = await w.sql('select count(*)::int as n from provider_event where payment_id = $1', [
        p.id,
      ]);
      expect(n).toBe(1);
    });
  });

  describe('reordered and late callbacks', () => {
    test('payment.failed (or cancelled) after payment.succeeded changes nothing: still SUCCEEDED', async () => {
      const s = await w.shop();
      const p = await w.startCard(s);
      expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
      await eventually(async () => (await w.payment(p.id)).status === 'SUCCEEDED');
      await w.providerIdle();
      await w.expectPaidOnce(s, p.id);

      const before = await w.snapshot();
      expect(await w.postSigned(await w.event(p.id, 'payment.failed'))).toEqual({
        status: 200,
        body: { status: 'processed' },
      });
      expect(await w.postSigned(await w.event(p.id, 'payment.cancelled'))).toEqual({
        status: 200,
        body: { status: 'processed' },
      });
      expect(await w.snapshot()).toEqual(before);
      await w.expectPaidOnce(s, p.id);
      expect(await w.providerEvents(p.id)).toEqual([
        'payment.succeeded',
        'payment.failed',
        'payment.cancelled',
      ]);
    });

    test('callbacks held back (reorder) and released late: a declined attempt ends FAILED, the paid retry SUCCEEDED', async () => {
      const s = await w.shop();
      const first = await w.startCard(s);
      await w.control({ reorder: true });
      expect(await completeOnProviderPage(first.redirectUrl, 'decline')).toBe(303);
      // A second attempt paid while the first one's event is still held.
      const second = await w.startCard(s);
      expect(await completeOnProviderPage(second.redirectUrl)).toBe(303);
      expect((await w.control()).stats.deliveries.held).toBe(2);
      expect(await w.orderStatuses(s)).toEqual(['PENDING_PAYMENT', 'PENDING_PAYMENT']);
      await w.control({ reorder: false });
      await w.providerIdle();
      await eventually(async () => (await w.payment(second.id)).status === 'SUCCEEDED');
      expect(await w.payment(first.id)).toMatchObject({
        status: 'FAILED',
        failure_reason: 'declined',
        settled: false,
        refunded: 0,
      });
      await w.expectPaidOnce(s, second.id);
      expect(await w.postingsOf(first.id)).toEqual([]);
    });

    test('payment.succeeded after the buyer cancelled the orders: SUCCEEDED, refunded in full, no escrow, orders stay CANCELLED, stock back', async () => {
      const s = await w.shop({ policyB: 'DEDUCT_ON_PAYMENT' });
      const p = await w.startCard(s);
      for (const o of [s.orderA, s.orderB]) {
        expect((await w.gql(ORDER_CANCEL, { o }, s.buyer.token)).data.orderCancel).toEqual({
          __typename: 'Order',
          status: 'CANCELLED',
        });
      }
      expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
      expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });

      // The shopper still had the provider's page open and pays on it.
      expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
      await eventually(async () => (await w.payment(p.id)).status !== 'PENDING');
      expect(await w.payment(p.id)).toMatchObject({
        status: 'REFUNDED',
        amount: 5500,
        refunded: 5500,
        settled: true,
      });
      expect(await w.orderStatuses(s)).toEqual(['CANCELLED', 'CANCELLED']);
      expect(await w.orderHistories(s)).toEqual([
        ['PENDING_PAYMENT', 'CANCELLED'],
        ['PENDING_PAYMENT', 'CANCELLED'],
      ]);
      const refunds = await w.expectRefundedAtProvider(p.id, 5500);
      expect(refunds.refunds).toHaveLength(2);
      expect((await w.refunds(p.id)).map((r) => [r.order_id, r.amount, r.status])).toEqual(
        [
          [s.orderA, 4000, 'SUCCEEDED'],
          [s.orderB, 1500, 'SUCCEEDED'],
        ].sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1)),
      );
      // No money was kept: nothing entered the books for these orders.
      expect(await w.postingsOf(p.id)).toEqual([]);
      expect(await w.escrow(s.mA.id)).toBeNull();
      expect(await w.escrow(s.mB.id)).toBeNull();
      // Nothing was sold: a DEDUCT_ON_PAYMENT line of a cancelled order takes no stock.
      expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
      expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
      await w.providerIdle();
      expect(await w.providerEvents(p.id)).toEqual([
        'payment.succeeded',
        'refund.succeeded',
        'refund.succeeded',
      ]);
      expect(await w.payment(p.id)).toMatchObject({ status: 'REFUNDED', refunded: 5500 });
      expect(await w.invariants()).toEqual([]);
    });
  });

  describe('lost callback', () => {
    test('with the callback dropped the orders stay PENDING_PAYMENT; polling before pollAfter changes nothing', async () => {
      const s = await w.shop();
      const { id } = await paidWithLostCallback(s);
      await sleep(1500);
      // Polled only after PAYMENT_POLL_AFTER_SECONDS (3600 here): nothing is due yet.
      expect(await w.reconcile()).toBe(0);
      expect(await w.payment(id)).toMatchObject({ status: 'PENDING', refunded: 0, settled: false });
      expect(await w.orderStatuses(s)).toEqual(['PENDING_PAYMENT', 'PENDING_PAYMENT']);
      expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 2, sold: 0 });
      expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 1, sold: 0 });
      expect(await w.postingsOf(id)).toEqual([]);
      expect(await w.providerEvents(id)).toEqual([]);
      expect(await w.invariants()).toEqual([]);
    });
  });

  describe('declined', () => {
    test('action=decline: payment FAILED, orders still payable; a new key starts a new payment that pays them', async () => {
      const s = await w.shop();
      const first = await w.startCard(s, 'attempt-1');
      expect(await completeOnProviderPage(first.redirectUrl, 'decline')).toBe(303);
      await eventually(async () => (await w.payment(first.id)).status === 'FAILED');
      await w.providerIdle();
      expect(await w.payment(first.id)).toMatchObject({
        status: 'FAILED',
        failure_reason: 'declined',
        refunded: 0,
        settled: false,
      });
      expect((await w.providerPayment(await w.providerRef(first.id))).status).toBe('FAILED');
      expect(await w.orderStatuses(s)).toEqual(['PENDING_PAYMENT', 'PENDING_PAYMENT']);
      expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 2, sold: 0 });
      expect(await w.postingsOf(first.id)).toEqual([]);

      // The same key answers the failed attempt again; it is not a new payment.
      const same = (await w.startPayment(s, 'attempt-1')).data.paymentStart;
      expect(same).toMatchObject({
        __typename: 'Payment',
        id: first.id,
        status: 'FAILED',
        redirectUrl: null,
      });

      const second = await w.startCard(s, 'attempt-2');
      expect(second.id).not.toBe(first.id);
      expect(second.redirectUrl).not.toBe(first.redirectUrl);
      expect(await completeOnProviderPage(second.redirectUrl)).toBe(303);
      await eventually(async () => (await w.payment(second.id)).status === 'SUCCEEDED');
      await w.providerIdle();
      await w.expectPaidOnce(s, second.id);
      expect((await w.payment(first.id)).status).toBe('FAILED');
      expect(await w.postingsOf(first.id)).toEqual([]);
    });
  });

  describe('DEDUCT_ON_PAYMENT stock gone before payment', () => {
    test("that order is CANCELLED and its share refunded; the other merchant's order is PAID", async () => {
      const s = await w.shop({ policyA: 'DEDUCT_ON_PAYMENT' });
      // DEDUCT_ON_PAYMENT takes nothing at checkout.
      expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
      const p = await w.startCard(s);
      // Between checkout and payment the merchant's stock drops below the 2 ordered.
      const level = await w.gql(INVENTORY_SET, { v: s.vA, n: 1 }, s.mA.token);
      expect(level.data.inventorySet).toEqual({ onHand: 1, reserved: 0, sold: 0, available: 1 });

      expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
      await eventually(async () => (await w.payment(p.id)).status !== 'PENDING');
      expect(await w.payment(p.id)).toMatchObject({
        status: 'PARTIALLY_REFUNDED',
        amount: 5500,
        refunded: 4000,
        settled: true,
      });
      expect(await w.orderStatuses(s)).toEqual(['CANCELLED', 'PAID']);
      expect(await w.orderHistories(s)).toEqual([
        ['PENDING_PAYMENT', 'CANCELLED'],
        ['PENDING_PAYMENT', 'PAID'],
      ]);
      const [a] = await w.sql('select cancel_reason from shop_order where id = $1', [s.orderA]);
      expect(a.cancel_reason).toBe('stock ran out before payment');
      // Only B's sale entered the books.
      expect(await w.purchases(p.id)).toEqual([
        [
          `MERCHANT:${s.mB.id}:ESCROW:SALE:1350`,
          'PLATFORM:-:FEE_REVENUE:PLATFORM_FEE:150',
          'PLATFORM:-:PROVIDER_CLEARING:PURCHASE:-1500',
        ],
      ]);
      expect(await w.postingsOf(p.id)).toEqual([`PURCHASE payment:${p.id}`]);
      expect(await w.escrow(s.mA.id)).toBeNull();
      expect(await w.escrow(s.mB.id)).toBe(1350);
      expect(await w.variant(s.vA)).toEqual({ on_hand: 1, reserved: 0, sold: 0 });
      expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 1 });
      // A's share goes back to the card.
      await w.expectRefundedAtProvider(p.id, 4000);
      expect((await w.refunds(p.id)).map((r) => [r.order_id, r.amount, r.status])).toEqual([
        [s.orderA, 4000, 'SUCCEEDED'],
      ]);
      await w.providerIdle();
      expect(await w.providerEvents(p.id)).toEqual(['payment.succeeded', 'refund.succeeded']);
      expect(await w.payment(p.id)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refunded: 4000 });
      expect(await w.invariants()).toEqual([]);
    });
  });

  describe('paymentStart idempotency and state', () => {
    test('same key + another method is IDEMPOTENCY_KEY_REUSED; a PAID checkout is ORDER_STATE_INVALID; a cancelled one PAYMENT_WINDOW_EXPIRED', async () => {
      const s = await w.shop();
      const p = await w.startCard(s, 'k-1');
      const [{ n: paymentsBefore }] = await w.sql(
        'select count(*)::int as n from payment where checkout_id = $1',
        [s.checkoutId],
      );
      expect(paymentsBefore).toBe(1);

      const reused = (await w.startPayment(s, 'k-1', 'BALANCE')).data.paymentStart;
      expect(reused).toMatchObject({ __typename: 'UserError', errorCode: 'IDEMPOTENCY_KEY_REUSED' });
      // The same key and request answers the same payment.
      expect((await w.startPayment(s, 'k-1')).data.paymentStart).toMatchObject({
        __typename: 'Payment',
        id: p.id,
        status: 'PENDING',
        redirectUrl: p.redirectUrl,
      });

      expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
      await eventually(async () => (await w.payment(p.id)).status === 'SUCCEEDED');
      await w.providerIdle();
      for (const [key, method] of [
        ['k-2', 'CARD'],
        ['k-3', 'BALANCE'],
      ]) {
        expect((await w.startPayment(s, key, method)).data.paymentStart).toMatchObject({
          __typename: 'UserError',
          errorCode: 'ORDER_STATE_INVALID',
        });
      }
      const [{ n: paymentsAfter }] = await w.sql(
        'select count(*)::int as n from payment where checkout_id = $1',
        [s.checkoutId],
      );
      expect(paymentsAfter).toBe(1);
      await w.expectPaidOnce(s, p.id);

      const c = await w.shop();
      for (const o of [c.orderA, c.orderB]) {
        expect((await w.gql(ORDER_CANCEL, { o }, c.buyer.token)).data.orderCancel.status).toBe('CANCELLED');
      }
      const created = (await w.control()).stats.paymentsCreated;
      expect((await w.startPayment(c, 'k-4')).data.paymentStart).toMatchObject({
        __typename: 'UserError',
        errorCode: 'PAYMENT_WINDOW_EXPIRED',
      });
      const [{ n: none }] = await w.sql('select count(*)::int as n from payment where checkout_id = $1', [
        c.checkoutId,
      ]);
      expect(none).toBe(0);
      expect((await w.control()).stats.paymentsCreated).toBe(created);
      expect(await w.invariants()).toEqual([]);
    });
  });

  // Last in this app: while the provider is down, the client's circuit breaker counts failures.
  describe('provider down', () => {
    test('paymentStart answers PAYMENT_PROVIDER_UNAVAILABLE; once it is up, the same key returns the same payment, PENDING, payable', async () => {
      const s = await w.shop();
      const created = (await w.control({ down: true })).stats.paymentsCreated;
      const started = Date.now();
      const down = await w.startPayment(s, 'k-down');
      expect(down.status).toBe(200);
      expect(down.errors).toBeUndefined();
      expect(down.data.paymentStart).toMatchObject({
        __typename: 'UserError',
        errorCode: 'PAYMENT_PROVIDER_UNAVAILABLE',
      });
      // Three attempts with a backoff that honours the provider's Retry-After: 1.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      const [row] = await w.sql(
        'select id::text, status, provider_ref, redirect_url from payment where checkout_id = $1',
        [s.checkoutId],
      );
      expect(row).toMatchObject({ status: 'PENDING', provider_ref: null, redirect_url: null });
      expect(await w.orderStatuses(s)).toEqual(['PENDING_PAYMENT', 'PENDING_PAYMENT']);

      await w.control({ down: false });
      const up = (await w.startPayment(s, 'k-down')).data.paymentStart;
      expect(up).toMatchObject({
        __typename: 'Payment',
        id: row.id,
        status: 'PENDING',
        amount: { amount: '55.00' },
      });
      expect(up.redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/pay\/pay_[0-9a-f]+$/);
      expect((await w.control()).stats.paymentsCreated).toBe(created + 1);
      // Asking again creates nothing more at the provider.
      expect((await w.startPayment(s, 'k-down')).data.paymentStart).toMatchObject({
        id: row.id,
        redirectUrl: up.redirectUrl,
      });
      expect((await w.control()).stats.paymentsCreated).toBe(created + 1);

      expect(await completeOnProviderPage(up.redirectUrl)).toBe(303);
      await eventually(async () => (await w.payment(row.id)).status === 'SUCCEEDED');
      await w.providerIdle();
      await w.expectPaidOnce(s, row.id);
    });
  });
});

// ============================================================================================
// Polling: pending payments are asked about after 1 s; the payment window is long enough for
// the lost-callback case and short enough (8 s) to see a deadline pass.
// ============================================================================================

describe('card payments: polling (PAYMENT_POLL_AFTER_SECONDS=1)', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.start({ PAYMENT_POLL_AFTER_SECONDS: '1', PAYMENT_WINDOW_SECONDS: '8' });
  });
  afterAll(() => w?.t.stop());
  beforeEach(() => w.control({ reset: true }));
  afterEach(() => w.control({ reset: true }));

  test('a lost callback is settled by reconcile: PAID once', async () => {
    const s = await w.shop();
    const p = await w.startCard(s);
    const startedAt = Date.now();
    const before = (await w.control({ dropCallbacks: 1 })).stats.deliveries.dropped;
    expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
    expect((await w.providerIdle()).stats.deliveries.dropped).toBe(before + 1);
    await sleep(Math.max(0, 1500 - (Date.now() - startedAt)));
    // The cron may have polled it too; either way it is settled once.
    await w.reconcile();
    expect((await w.payment(p.id)).status).toBe('SUCCEEDED');
    await w.expectPaidOnce(s, p.id);
    // Polling again changes nothing.
    await w.reconcile();
    await w.expectPaidOnce(s, p.id);
    expect(await w.providerEvents(p.id)).toEqual([]);
  });

  test('reordered on one payment: refund.succeeded arrives before payment.succeeded; the late success does not undo the refund', async () => {
    const s = await w.shop();
    const p = await w.startCard(s);
    const startedAt = Date.now();
    await w.control({ reorder: true });
    expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
    expect((await w.control()).stats.deliveries.held).toBe(1);
    // The success is held at the provider; polling learns it.
    await sleep(Math.max(0, 1500 - (Date.now() - startedAt)));
    await w.reconcile();
    await w.expectPaidOnce(s, p.id);

    // B's order is refunded in full; the provider's refund.succeeded is held behind the success.
    const refund = await w.gql(ORDER_REFUND, { o: s.orderB, a: '15.00', k: `refund-${hex()}` }, w.admin);
    expect(refund.data.orderRefund).toEqual({ __typename: 'Order', status: 'REFUNDED' });
    await w.expectRefundedAtProvider(p.id, 1500);
    await eventually(async () => (await w.control()).stats.deliveries.held === 2);
    expect(await w.providerEvents(p.id)).toEqual([]);

    // Released newest first: refund.succeeded, then payment.succeeded.
    await w.control({ reorder: false });
    await w.providerIdle();
    expect(await w.providerEvents(p.id)).toEqual(['refund.succeeded', 'payment.succeeded']);
    expect(await w.payment(p.id)).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      amount: 5500,
      refunded: 1500,
      settled: true,
    });
    expect(await w.orderStatuses(s)).toEqual(['PAID', 'REFUNDED']);
    expect(await w.orderHistories(s)).toEqual([
      ['PENDING_PAYMENT', 'PAID'],
      ['PENDING_PAYMENT', 'PAID', 'REFUNDED'],
    ]);
    const [r] = await w.refunds(p.id);
    expect(r).toMatchObject({ order_id: s.orderB, amount: 1500, status: 'SUCCEEDED' });
    const [{ id: refundId }] = await w.sql('select id::text from refund where payment_id = $1', [p.id]);
    expect(await w.postingsOf(p.id)).toEqual([`PURCHASE payment:${p.id}`, `REFUND refund:${refundId}`]);
    expect(await w.escrow(s.mA.id)).toBe(3600);
    expect(await w.escrow(s.mB.id)).toBe(0);
    expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 1 });
    expect(await w.invariants()).toEqual([]);
  });

  test('at the deadline a payment still pending at the provider is cancelled there, and here', async () => {
    const s = await w.shop();
    const p = await w.startCard(s);
    const ref = await w.providerRef(p.id);
    const [{ deadline }] = await w.sql('select payment_deadline as deadline from checkout where id = $1', [
      s.checkoutId,
    ]);
    // Before the deadline: asked about, still pending, left alone.
    await sleep(1100);
    await w.reconcile();
    expect((await w.payment(p.id)).status).toBe('PENDING');
    expect((await w.providerPayment(ref)).status).toBe('PENDING');

    await sleep(Math.max(0, new Date(deadline).getTime() - Date.now() + 200));
    await w.reconcile();
    expect((await w.providerPayment(ref)).status).toBe('CANCELLED');
    expect(await w.payment(p.id)).toMatchObject({
      status: 'CANCELLED',
      failure_reason: 'cancelled',
      refunded: 0,
      settled: false,
    });
    // The expiry job cancels the orders and gives their stock back.
    await eventually(async () => (await w.orderStatuses(s)).every((st) => st === 'CANCELLED'));
    expect(await w.orderHistories(s)).toEqual([
      ['PENDING_PAYMENT', 'CANCELLED'],
      ['PENDING_PAYMENT', 'CANCELLED'],
    ]);
    expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
    expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });

    // The provider's payment.cancelled callback arrives and changes nothing.
    await w.providerIdle();
    expect(await w.providerEvents(p.id)).toEqual(['payment.cancelled']);
    // The hosted page cannot take the money any more.
    expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
    expect((await w.providerPayment(ref)).status).toBe('CANCELLED');
    await w.providerIdle();
    expect((await w.payment(p.id)).status).toBe('CANCELLED');
    expect(await w.postingsOf(p.id)).toEqual([]);
    expect(await w.refunds(p.id)).toEqual([]);
    expect(await w.escrow(s.mA.id)).toBeNull();
    expect(await w.invariants()).toEqual([]);
  });
});

// ============================================================================================
// A 3 s payment window, and no polling (so the provider is never asked to cancel): a payment
// made on the provider's page after the expiry cancelled the orders is refunded.
// ============================================================================================

describe('card payments: after the payment window (PAYMENT_WINDOW_SECONDS=3)', () => {
  let w: World;
  beforeAll(async () => {
    w = await World.start({ PAYMENT_POLL_AFTER_SECONDS: '3600', PAYMENT_WINDOW_SECONDS: '3' });
  });
  afterAll(() => w?.t.stop());
  beforeEach(() => w.control({ reset: true }));
  afterEach(() => w.control({ reset: true }));

  test('payment.succeeded after the expiry cancelled the orders: SUCCEEDED, refunded in full, no escrow, orders stay CANCELLED', async () => {
    const s = await w.shop({ policyB: 'DEDUCT_ON_PAYMENT' });
    const p = await w.startCard(s);
    await eventually(async () => (await w.orderStatuses(s)).every((st) => st === 'CANCELLED'));
    expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
    // The window has closed: a new attempt is refused.
    expect((await w.startPayment(s, `late-${hex()}`)).data.paymentStart).toMatchObject({
      __typename: 'UserError',
      errorCode: 'PAYMENT_WINDOW_EXPIRED',
    });

    expect(await completeOnProviderPage(p.redirectUrl)).toBe(303);
    await eventually(async () => (await w.payment(p.id)).status !== 'PENDING');
    expect(await w.payment(p.id)).toMatchObject({
      status: 'REFUNDED',
      amount: 5500,
      refunded: 5500,
      settled: true,
    });
    await w.expectRefundedAtProvider(p.id, 5500);
    expect(await w.orderStatuses(s)).toEqual(['CANCELLED', 'CANCELLED']);
    expect(await w.orderHistories(s)).toEqual([
      ['PENDING_PAYMENT', 'CANCELLED'],
      ['PENDING_PAYMENT', 'CANCELLED'],
    ]);
    const [a] = await w.sql('select cancel_reason from shop_order where id = $1', [s.orderA]);
    expect(a.cancel_reason).toBe('payment window expired');
    expect(await w.postingsOf(p.id)).toEqual([]);
    expect(await w.escrow(s.mA.id)).toBeNull();
    expect(await w.escrow(s.mB.id)).toBeNull();
    expect(await w.variant(s.vA)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
    expect(await w.variant(s.vB)).toEqual({ on_hand: 5, reserved: 0, sold: 0 });
    await w.providerIdle();
    expect(await w.providerEvents(p.id)).toEqual([
      'payment.succeeded',
      'refund.succeeded',
      'refund.succeeded',
    ]);
    expect(await w.invariants()).toEqual([]);
  });
});
