import { randomUUID } from 'node:crypto';
import { HttpCardProvider } from '../../src/modules/payment/provider/http-card-provider';
import {
  ProviderRequestError,
  ProviderUnavailableError,
} from '../../src/modules/payment/provider/card-provider';
import { verify } from '../../src/shared/signature';
import type { ControlsUpdate, ControlsView, CreatedPayment, PaymentView } from '../../src/sandbox/types';
import {
  runSandboxToExit,
  sleep,
  startReceiver,
  startSandboxProcess,
  waitFor,
  type Receiver,
  type SandboxProcess,
} from './support';

/**
 * The sandbox card provider as its own process (`node dist/src/sandbox/main.js`), with a callback
 * receiver in this process, over real HTTP on 127.0.0.1.
 */

const API_KEY = 'test-api-key-0123456789';
const SECRET = 'test-webhook-secret-0123456789';
const BASE_MS = 100;

let sandbox: SandboxProcess;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startSandboxProcess({
    NODE_ENV: 'production',
    SANDBOX_API_KEY: API_KEY,
    SANDBOX_WEBHOOK_SECRET: SECRET,
    SANDBOX_CALLBACK_URL: `${receiver.url}/default`,
    SANDBOX_CALLBACK_BASE_MS: String(BASE_MS),
    SANDBOX_CALLBACK_MAX_MS: '1000',
    SANDBOX_CALLBACK_MAX_ATTEMPTS: '8',
    SANDBOX_CALLBACK_TIMEOUT_MS: '2000',
  });
});

afterAll(async () => {
  const exit = await sandbox?.stop('SIGTERM');
  await receiver?.close();
  // Stops cleanly on SIGTERM, promptly, even with deliveries pending.
  expect(exit).toMatchObject({ code: 0, killed: false });
  expect(exit!.ms).toBeLessThan(5_000);
});

beforeEach(async () => {
  receiver.respond = () => 200;
  await control({ reset: true });
});

// ---- helpers ----

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${sandbox.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function control(update?: ControlsUpdate): Promise<ControlsView> {
  const r = update === undefined ? await call('GET', '/control') : await call('POST', '/control', update);
  expect(r.status).toBe(200);
  return r.json;
}

const paymentBody = (over: Record<string, unknown> = {}) => ({
  amount: 1234,
  currency: 'EUR',
  reference: `order-${randomUUID()}`,
  returnUrl: 'http://127.0.0.1:9/shop/return?cart=7',
  callbackUrl: `${receiver.url}/webhooks/payments`,
  ...over,
});

async function create(over: Record<string, unknown> = {}, key = randomUUID()): Promise<CreatedPayment> {
  const r = await call('POST', '/v1/payments', paymentBody(over), { 'idempotency-key': key });
  expect(r.status).toBe(201);
  return r.json;
}

async function getPayment(id: string): Promise<PaymentView> {
  const r = await call('GET', `/v1/payments/${id}`);
  expect(r.status).toBe(200);
  return r.json;
}

/** Completes the hosted page as a program does: POST <redirectUrl> with action=pay|decline. */
async function submitPage(redirectUrl: string, action: string, as: 'form' | 'json' = 'form') {
  const res = await fetch(redirectUrl, {
    method: 'POST',
    headers: { 'content-type': as === 'form' ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: as === 'form' ? new URLSearchParams({ action }).toString() : JSON.stringify({ action }),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, location: res.headers.get('location'), text: await res.text() };
}

async function paid(over: Record<string, unknown> = {}): Promise<CreatedPayment> {
  const p = await create(over);
  expect((await submitPage(p.redirectUrl, 'pay')).status).toBe(303);
  return p;
}

async function refund(id: string, amount: number, key = randomUUID()) {
  return call('POST', `/v1/payments/${id}/refunds`, { amount }, { 'idempotency-key': key });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function client(over: Partial<ConstructorParameters<typeof HttpCardProvider>[0]> = {}) {
  return new HttpCardProvider({
    baseUrl: sandbox.url,
    apiKey: API_KEY,
    retryBaseMs: 20,
    retryMaxMs: 200,
    ...over,
  });
}

// ---- the service ----

describe('service', () => {
  it('answers /healthz and requires the API key on /v1', async () => {
    expect((await fetch(`${sandbox.url}/healthz`)).status).toBe(200);
    const none = await call('GET', '/v1/payments/pay_x', undefined, { authorization: '' });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('unauthorized');
    expect(
      (await call('GET', '/v1/payments/pay_x', undefined, { authorization: 'Bearer wrong' })).status,
    ).toBe(401);
    expect((await call('GET', '/v1/payments/pay_x')).status).toBe(404);
  });

  it('validates payment requests with 400 and JSON errors', async () => {
    const bad: Record<string, unknown>[] = [
      { amount: 0 },
      { amount: -5 },
      { amount: 12.5 },
      { amount: '1234' },
      { amount: 2 ** 53 },
      { currency: 'eur' },
      { currency: 'EURO' },
      { reference: '' },
      { reference: 'x'.repeat(201) },
      { returnUrl: 'javascript:alert(1)' },
      { callbackUrl: 'not a url' },
    ];
    for (const over of bad) {
      const r = await call('POST', '/v1/payments', paymentBody(over), { 'idempotency-key': randomUUID() });
      expect({ over, status: r.status, code: r.json?.error?.code }).toEqual({
        over,
        status: 400,
        code: 'invalid_request',
      });
    }
    expect((await call('POST', '/v1/payments', paymentBody())).status).toBe(400); // no Idempotency-Key
    expect((await call('POST', '/v1/payments', '{not json', { 'idempotency-key': 'k' })).status).toBe(400);
    expect((await call('POST', '/v1/payments', 'x'.repeat(70_000), { 'idempotency-key': 'k' })).status).toBe(
      413,
    );
    expect((await call('GET', '/v1/payments')).status).toBe(405);
    expect((await call('GET', '/v1/nothing/here')).status).toBe(404);
  });

  it('creates a pending payment whose redirectUrl is a usable hosted page', async () => {
    const p = await create({ amount: 123456, reference: 'order <42> & co' });
    expect(p).toMatchObject({
      status: 'PENDING',
      amount: 123456,
      currency: 'EUR',
      reference: 'order <42> & co',
    });
    expect(p.id).toMatch(/^pay_/);
    expect(p.redirectUrl).toBe(`${sandbox.url}/pay/${p.id}`);

    const res = await fetch(p.redirectUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('1234.56 EUR');
    expect(html).toContain('order &lt;42&gt; &amp; co');
    expect(html).toMatch(/<form method="post">/);
    expect(html).toMatch(/<button[^>]*name="action" value="pay"[^>]*>Pay<\/button>/);
    expect(html).toMatch(/<button[^>]*name="action" value="decline"[^>]*>Decline<\/button>/);

    expect((await getPayment(p.id)).status).toBe('PENDING');
    expect((await fetch(`${sandbox.url}/pay/pay_unknown`)).status).toBe(404);
  });

  it('pay: 303 to the returnUrl, then one signed payment.succeeded callback', async () => {
    const p = await create();
    const r = await submitPage(p.redirectUrl, 'pay');
    expect(r.status).toBe(303);
    expect(r.location).toBe(
      `http://127.0.0.1:9/shop/return?cart=7&payment=${p.id}&status=SUCCEEDED&reference=${p.reference}`,
    );

    const [d] = await receiver.waitForDeliveries(p.id, 1);
    expect(d!.path).toBe('/webhooks/payments');
    expect(d!.event).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'payment.succeeded',
      paymentId: p.id,
      amount: 1234,
      currency: 'EUR',
      reference: p.reference,
      occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(verify([SECRET], d!.signature, d!.raw, nowSeconds())).toBe(true);
    expect(verify(['another-secret'], d!.signature, d!.raw, nowSeconds())).toBe(false);
    expect(d!.attempt).toBe(1);
    expect((await getPayment(p.id)).status).toBe('SUCCEEDED');

    // Paying or declining a final payment changes nothing and sends nothing.
    expect((await submitPage(p.redirectUrl, 'decline')).location).toContain('status=SUCCEEDED');
    await sleep(300);
    expect(receiver.forPayment(p.id)).toHaveLength(1);
    expect((await getPayment(p.id)).status).toBe('SUCCEEDED');
  });

  it('an app link as returnUrl: 303 to it with the outcome in its query', async () => {
    const p = await create({ returnUrl: 'myapp://orders/done?x=1' });
    const r = await submitPage(p.redirectUrl, 'pay');
    expect(r.status).toBe(303);
    expect(r.location).toBe(
      `myapp://orders/done?x=1&payment=${p.id}&status=SUCCEEDED&reference=${p.reference}`,
    );
  });

  it('decline (as JSON): payment.failed; without a returnUrl the page answers 200 HTML', async () => {
    const p = await create({ returnUrl: undefined });
    const r = await submitPage(p.redirectUrl, 'decline', 'json');
    expect(r.status).toBe(200);
    expect(r.text).toContain('FAILED');
    const [d] = await receiver.waitForDeliveries(p.id, 1);
    expect(d!.event.type).toBe('payment.failed');
    expect(verify([SECRET], d!.signature, d!.raw, nowSeconds())).toBe(true);
    expect((await getPayment(p.id)).status).toBe('FAILED');
    expect((await submitPage(p.redirectUrl, 'pay')).status).toBe(200);
    expect((await getPayment(p.id)).status).toBe('FAILED');
    expect((await submitPage(p.redirectUrl, 'steal')).status).toBe(400);
  });

  it('sends events of a payment without a callbackUrl to SANDBOX_CALLBACK_URL', async () => {
    const p = await paid({ callbackUrl: undefined });
    const [d] = await receiver.waitForDeliveries(p.id, 1);
    expect(d!.path).toBe('/default');
  });

  it('idempotent create: same key and body → same payment; different body → 409; concurrent → one', async () => {
    const key = randomUUID();
    const body = paymentBody();
    const first = await call('POST', '/v1/payments', body, { 'idempotency-key': key });
    // Same request with its keys in another order.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await call('POST', '/v1/payments', reordered, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('idempotent-replayed')).toBe('true');

    const other = await call('POST', '/v1/payments', { ...body, amount: 999 }, { 'idempotency-key': key });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe('idempotency_key_reused');

    const before = (await control()).stats.paymentsCreated;
    const key2 = randomUUID();
    const body2 = paymentBody();
    const all = await Promise.all(
      Array.from({ length: 10 }, () => call('POST', '/v1/payments', body2, { 'idempotency-key': key2 })),
    );
    expect(new Set(all.map((r) => r.json.id)).size).toBe(1);
    expect(all.every((r) => r.status === 201)).toBe(true);
    expect((await control()).stats.paymentsCreated).toBe(before + 1);
  });

  it('cancel: pending → CANCELLED with payment.cancelled, idempotent; a paid payment is 409', async () => {
    const p = await create();
    const c1 = await call('POST', `/v1/payments/${p.id}/cancel`);
    expect(c1.status).toBe(200);
    expect(c1.json.status).toBe('CANCELLED');
    const c2 = await call('POST', `/v1/payments/${p.id}/cancel`);
    expect(c2.status).toBe(200);
    expect(c2.json.status).toBe('CANCELLED');
    const [d] = await receiver.waitForDeliveries(p.id, 1);
    expect(d!.event.type).toBe('payment.cancelled');
    // The hosted page no longer pays it.
    expect((await submitPage(p.redirectUrl, 'pay')).location).toContain('status=CANCELLED');
    await sleep(300);
    expect(receiver.forPayment(p.id)).toHaveLength(1);

    const q = await paid();
    const c3 = await call('POST', `/v1/payments/${q.id}/cancel`);
    expect(c3.status).toBe(409);
    expect(c3.json.error.code).toBe('payment_not_cancellable');
    expect((await call('POST', '/v1/payments/pay_nope/cancel')).status).toBe(404);
  });

  it('refunds: partial, idempotent, over-refund 422, full; only paid payments; refund.succeeded events', async () => {
    const pending = await create({ amount: 1000 });
    const notPaid = await refund(pending.id, 100);
    expect(notPaid.status).toBe(409);
    expect(notPaid.json.error.code).toBe('payment_not_refundable');

    const p = await paid({ amount: 1000 });
    const key = randomUUID();
    const r1 = await refund(p.id, 300, key);
    expect(r1.status).toBe(201);
    expect(r1.json).toMatchObject({ status: 'SUCCEEDED', amount: 300, paymentId: p.id });
    expect(r1.json.id).toMatch(/^re_/);
    const replay = await refund(p.id, 300, key);
    expect(replay.json).toEqual(r1.json);
    expect((await refund(p.id, 301, key)).status).toBe(409); // same key, other amount

    const over = await refund(p.id, 701);
    expect(over.status).toBe(422);
    expect(over.json.error.code).toBe('refund_exceeds_payment');
    expect((await refund(p.id, 0)).status).toBe(400);
    expect((await refund(p.id, 700)).status).toBe(201);
    expect((await refund(p.id, 1)).status).toBe(422);
    expect((await refund('pay_unknown', 1)).status).toBe(404);

    const view = await getPayment(p.id);
    expect(view.refunded).toBe(1000);
    expect(view.refunds.map((r) => r.amount)).toEqual([300, 700]);

    const ds = await receiver.waitForDeliveries(p.id, 3);
    const refunds = ds.filter((d) => d.event.type === 'refund.succeeded');
    expect(refunds.map((d) => d.event.amount).sort()).toEqual([300, 700]);
    expect(refunds.map((d) => d.event.refundId).sort()).toEqual(view.refunds.map((r) => r.id).sort());
    expect(refunds.every((d) => verify([SECRET], d.signature, d.raw, nowSeconds()))).toBe(true);
  });

  it('retries a failed callback with exponential backoff until a 2xx, and then stops', async () => {
    const failures = new Map<string, number>();
    receiver.respond = (d) => {
      const n = failures.get(d.event.id) ?? 0;
      failures.set(d.event.id, n + 1);
      return n < 2 ? 500 : 200;
    };
    const p = await paid();
    const ds = await receiver.waitForDeliveries(p.id, 3);
    await sleep(BASE_MS * 8); // a fourth attempt would have come by now
    expect(receiver.forPayment(p.id)).toHaveLength(3);
    expect(ds.map((d) => [d.attempt, d.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(new Set(ds.map((d) => d.event.id)).size).toBe(1);
    expect(new Set(ds.map((d) => d.raw)).size).toBe(1);
    // Each attempt is signed afresh and verifies.
    expect(ds.every((d) => verify([SECRET], d.signature, d.raw, nowSeconds()))).toBe(true);
    const gap1 = ds[1]!.at - ds[0]!.at;
    const gap2 = ds[2]!.at - ds[1]!.at;
    expect(gap1).toBeGreaterThanOrEqual(BASE_MS * 0.9);
    expect(gap2).toBeGreaterThanOrEqual(BASE_MS * 2 * 0.9);
  });
});

// ---- test controls ----

describe('controls', () => {
  it('GET /control shows the controls; bad values are 400', async () => {
    const c = await control({ delayMs: 5, duplicateCallbacks: 2 });
    expect(c).toMatchObject({
      delayMs: 5,
      duplicateCallbacks: 2,
      down: false,
      reorder: false,
      dropCallbacks: 0,
    });
    expect((await control()).delayMs).toBe(5);
    for (const bad of [{ delayMs: -1 }, { down: 'yes' }, { duplicateCallbacks: 0 }, { nonsense: 1 }]) {
      expect((await call('POST', '/control', bad)).status).toBe(400);
    }
    expect(await control({ reset: true })).toMatchObject({ delayMs: 0, duplicateCallbacks: 1 });
  });

  it('drop: the next callback is never delivered, but the payment is SUCCEEDED', async () => {
    const before = (await control({ dropCallbacks: 1 })).stats.deliveries.dropped;
    const p = await paid();
    await sleep(800);
    expect(receiver.forPayment(p.id)).toHaveLength(0);
    expect((await getPayment(p.id)).status).toBe('SUCCEEDED');
    const after = await control();
    expect(after.stats.deliveries.dropped).toBe(before + 1);
    expect(after.dropCallbacks).toBe(0);
    // Only one was dropped.
    const q = await paid();
    await receiver.waitForDeliveries(q.id, 1);
  });

  it('duplicate ×10: ten identical deliveries of the same event, sent at once', async () => {
    await control({ duplicateCallbacks: 10 });
    const p = await paid();
    const ds = await receiver.waitForDeliveries(p.id, 10);
    await sleep(300);
    expect(receiver.forPayment(p.id)).toHaveLength(10);
    expect(new Set(ds.map((d) => d.event.id)).size).toBe(1);
    expect(new Set(ds.map((d) => d.raw)).size).toBe(1);
    expect(ds.every((d) => d.attempt === 1 && verify([SECRET], d.signature, d.raw, nowSeconds()))).toBe(true);
    expect(Math.max(...ds.map((d) => d.at)) - Math.min(...ds.map((d) => d.at))).toBeLessThan(1_000);
  });

  it('delay: the callback comes delayMs after the event', async () => {
    await control({ delayMs: 700 });
    const t0 = Date.now();
    const p = await paid();
    await sleep(400);
    expect(receiver.forPayment(p.id)).toHaveLength(0);
    const [d] = await receiver.waitForDeliveries(p.id, 1, 5_000);
    expect(d!.at - t0).toBeGreaterThanOrEqual(650);
  });

  it("reorder: a payment's events are held, then sent newest first", async () => {
    await control({ reorder: true });
    const p = await paid({ amount: 1000 });
    expect((await refund(p.id, 400)).status).toBe(201);
    await sleep(400);
    expect(receiver.forPayment(p.id)).toHaveLength(0);
    expect((await control()).stats.deliveries.held).toBe(2);

    await control({ reorder: false });
    const ds = await receiver.waitForDeliveries(p.id, 2);
    expect(ds.map((d) => d.event.type)).toEqual(['refund.succeeded', 'payment.succeeded']);
    expect(Date.parse(ds[0]!.event.occurredAt)).toBeGreaterThanOrEqual(Date.parse(ds[1]!.event.occurredAt));
  });

  it('down: API calls and the page answer 503, callbacks wait and resume when up', async () => {
    // The callback is still waiting on its delay when the provider goes down.
    await control({ delayMs: 1_000 });
    const p = await paid();
    const attemptsBefore = (await control({ down: true })).stats.deliveries.attempts;

    const r = await call('GET', `/v1/payments/${p.id}`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(
      (await call('POST', '/v1/payments', paymentBody(), { 'idempotency-key': randomUUID() })).status,
    ).toBe(503);
    expect((await fetch(p.redirectUrl)).status).toBe(503);
    expect((await fetch(`${sandbox.url}/healthz`)).status).toBe(200);

    await sleep(1_500);
    expect(receiver.forPayment(p.id)).toHaveLength(0);
    expect((await control()).stats.deliveries.attempts).toBe(attemptsBefore);

    await control({ down: false });
    const [d] = await receiver.waitForDeliveries(p.id, 1);
    expect(d!.attempt).toBe(1);
    expect((await getPayment(p.id)).status).toBe('SUCCEEDED');
  });

  it('failRefunds: the next refund calls answer 500 and refund nothing; a retry with the key succeeds', async () => {
    const p = await paid({ amount: 500 });
    await control({ failRefunds: 2 });
    const key = randomUUID();
    const r1 = await refund(p.id, 200, key);
    expect(r1.status).toBe(500);
    expect(r1.json.error.code).toBe('simulated_failure');
    expect((await refund(p.id, 200, key)).status).toBe(500);
    expect((await getPayment(p.id)).refunded).toBe(0);
    const r3 = await refund(p.id, 200, key);
    expect(r3.status).toBe(201);
    expect((await refund(p.id, 200, key)).json.id).toBe(r3.json.id);
    const view = await getPayment(p.id);
    expect(view.refunded).toBe(200);
    expect(view.refunds).toHaveLength(1);
  });
});

// ---- the client ----

describe('client', () => {
  it('creates, reads, cancels and refunds', async () => {
    const c = client();
    const body = paymentBody({ amount: 2500 });
    const created = await c.createPayment(body, { idempotencyKey: randomUUID() });
    expect(created).toMatchObject({
      status: 'PENDING',
      amount: 2500,
      redirectUrl: `${sandbox.url}/pay/${created.id}`,
    });
    expect((await c.getPayment(created.id)).status).toBe('PENDING');
    await submitPage(created.redirectUrl, 'pay');
    const r = await c.refund(created.id, { amount: 1000 }, { idempotencyKey: randomUUID() });
    expect(r).toMatchObject({ status: 'SUCCEEDED', amount: 1000 });
    expect((await c.getPayment(created.id)).refunded).toBe(1000);

    const other = await c.createPayment(paymentBody(), { idempotencyKey: randomUUID() });
    expect((await c.cancelPayment(other.id)).status).toBe('CANCELLED');
    expect((await c.cancelPayment(other.id)).status).toBe('CANCELLED');
  });

  it('4xx answers are typed errors and are not retried', async () => {
    const c = client({ retries: 3 });
    const before = (await control()).stats.apiRequests;
    const e = await c.getPayment('pay_unknown').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderRequestError);
    expect(e).toMatchObject({ status: 404, code: 'not_found' });
    expect((await control()).stats.apiRequests).toBe(before + 1);

    const p = await paid({ amount: 100 });
    const over = await c
      .refund(p.id, { amount: 101 }, { idempotencyKey: randomUUID() })
      .catch((x: unknown) => x);
    expect(over).toMatchObject({ status: 422, code: 'refund_exceeds_payment' });
    const bad = await c
      .createPayment({ ...paymentBody(), currency: 'eur' }, { idempotencyKey: 'k' })
      .catch((x) => x);
    expect(bad).toMatchObject({ status: 400, code: 'invalid_request' });
    const wrongKey = new HttpCardProvider({ baseUrl: sandbox.url, apiKey: 'wrong' });
    expect(await wrongKey.getPayment(p.id).catch((x) => x)).toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
    expect(c.circuitState()).toBe('closed');
  });

  it('times out a slow call: ProviderUnavailableError (timeout)', async () => {
    await control({ delayResponses: 1, responseDelayMs: 1_500 });
    const c = client({ timeoutMs: 200, retries: 0 });
    const t0 = Date.now();
    const e = await c.getPayment('pay_anything').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderUnavailableError);
    expect((e as ProviderUnavailableError).reason).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(1_400);
  });

  it('retries with the same Idempotency-Key: a create whose answer was lost makes one payment', async () => {
    const before = (await control({ delayResponses: 1, responseDelayMs: 2_000 })).stats;
    const c = client({ timeoutMs: 500, retries: 2 });
    const key = randomUUID();
    const body = paymentBody();
    const created = await c.createPayment(body, { idempotencyKey: key });
    const after = (await control()).stats;
    expect(after.paymentsCreated).toBe(before.paymentsCreated + 1);
    expect(after.apiRequests).toBeGreaterThanOrEqual(before.apiRequests + 2); // the lost one and a retry
    expect(await c.createPayment(body, { idempotencyKey: key })).toEqual(created);
    expect((await c.getPayment(created.id)).reference).toBe(body.reference);
  });

  it('retries 5xx: a refund that fails twice is made once', async () => {
    const p = await paid({ amount: 800 });
    await control({ failRefunds: 2 });
    const r = await client({ retries: 2 }).refund(p.id, { amount: 800 }, { idempotencyKey: randomUUID() });
    expect(r.amount).toBe(800);
    const view = await getPayment(p.id);
    expect(view.refunded).toBe(800);
    expect(view.refunds).toHaveLength(1);
  });

  it('circuit breaker: opens after N failures, fails fast, probes, closes', async () => {
    const states: string[] = [];
    const c = client({
      retries: 0,
      breaker: { failureThreshold: 3, openMs: 600 },
      onCircuitChange: (s) => states.push(s),
    });
    await control({ down: true });
    for (let i = 0; i < 3; i++) {
      const e = await c.getPayment('pay_x').catch((x: unknown) => x);
      expect(e).toMatchObject({ reason: 'server_error', status: 503 });
    }
    expect(c.circuitState()).toBe('open');

    const requests = (await control()).stats.apiRequests;
    const t0 = Date.now();
    const fast = await c
      .createPayment(paymentBody(), { idempotencyKey: randomUUID() })
      .catch((x: unknown) => x);
    expect(Date.now() - t0).toBeLessThan(100);
    expect(fast).toBeInstanceOf(ProviderUnavailableError);
    expect(fast).toMatchObject({ reason: 'circuit_open' });
    expect((fast as ProviderUnavailableError).retryAfterMs).toBeGreaterThan(0);
    expect((await control()).stats.apiRequests).toBe(requests);

    // Still down when the probe goes: open again at once.
    await sleep(650);
    expect(c.circuitState()).toBe('half-open');
    expect(await c.getPayment('pay_x').catch((x: unknown) => x)).toMatchObject({ reason: 'server_error' });
    expect(c.circuitState()).toBe('open');
    expect(await c.getPayment('pay_x').catch((x: unknown) => x)).toMatchObject({ reason: 'circuit_open' });

    // Up again: the next probe closes it.
    await control({ down: false });
    await sleep(650);
    const p = await c.createPayment(paymentBody(), { idempotencyKey: randomUUID() });
    expect(p.status).toBe('PENDING');
    expect(c.circuitState()).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  });
});

// ---- the process ----

describe('process', () => {
  it('refuses to start in production without its secrets (exit 2)', async () => {
    const r = await runSandboxToExit({ NODE_ENV: 'production', SANDBOX_API_KEY: API_KEY });
    expect(r.code).toBe(2);
    expect(r.output).toContain('SANDBOX_WEBHOOK_SECRET is required when NODE_ENV=production');
    const bad = await runSandboxToExit({ SANDBOX_PORT: 'abc' });
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('SANDBOX_PORT');
  });

  it('starts with development defaults and stops on SIGINT', async () => {
    const dev = await startSandboxProcess({ SANDBOX_PUBLIC_URL: 'http://payments.localhost:8080/' });
    try {
      expect(dev.url).toBe('http://payments.localhost:8080');
      expect(dev.output().trim().split('\n')).toEqual([
        'sandbox payment provider on http://payments.localhost:8080',
      ]);
    } finally {
      const exit = await dev.stop('SIGINT');
      expect(exit).toMatchObject({ code: 0, killed: false });
    }
  });

  it('leaves a callback in backoff for afterAll, which checks that SIGTERM still exits at once', async () => {
    receiver.respond = () => 500;
    const p = await paid();
    await receiver.waitForDeliveries(p.id, 1);
    await waitFor(async () => (await control()).stats.deliveries.pending > 0, 2_000, 'a pending delivery');
    // afterAll stops the process with this delivery in backoff and checks that it exits promptly.
  });
});
