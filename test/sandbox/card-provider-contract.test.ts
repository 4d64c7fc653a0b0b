import { randomUUID } from 'node:crypto';
import {
  ProviderRequestError,
  ProviderUnavailableError,
  type CardProvider,
  type CreatePaymentRequest,
  type PaymentEvent,
} from '../../src/modules/payment/provider/card-provider';
import { HttpCardProvider } from '../../src/modules/payment/provider/http-card-provider';
import { verify } from '../../src/shared/signature';
import { startReceiver, startSandboxProcess, type Receiver, type SandboxProcess } from './support';

/**
 * The contract every CardProvider implementation must pass: what the payment domain relies on.
 * A new provider is one new implementation file plus one more `cardProviderContract(...)` call here
 * whose harness drives that provider's test mode (its hosted page and its callbacks).
 */
interface ProviderHarness {
  provider: CardProvider;
  /** A provider configured like `provider` but pointing at an address where nothing answers. */
  unreachable: CardProvider;
  /** Where the provider sends its signed callbacks, and how they are verified. */
  callbackUrl: string;
  events(paymentId: string, n: number): Promise<{ event: PaymentEvent; verified: boolean }[]>;
  /** Completes the hosted page as the buyer would. */
  buyer(redirectUrl: string, action: 'pay' | 'decline'): Promise<void>;
  close(): Promise<void>;
}

function cardProviderContract(name: string, start: () => Promise<ProviderHarness>) {
  describe(`CardProvider contract: ${name}`, () => {
    let h: ProviderHarness;
    beforeAll(async () => {
      h = await start();
    });
    afterAll(() => h?.close());

    const request = (over: Partial<CreatePaymentRequest> = {}): CreatePaymentRequest => ({
      amount: 2599,
      currency: 'USD',
      reference: `pay-${randomUUID()}`,
      callbackUrl: h.callbackUrl,
      ...over,
    });

    it('creates a pending payment with a hosted page, readable by id', async () => {
      const input = request();
      const created = await h.provider.createPayment(input, { idempotencyKey: randomUUID() });
      expect(created).toMatchObject({
        status: 'PENDING',
        amount: 2599,
        currency: 'USD',
        reference: input.reference,
      });
      expect(created.redirectUrl).toMatch(/^https?:\/\//);
      const read = await h.provider.getPayment(created.id);
      expect(read).toMatchObject({ id: created.id, status: 'PENDING', refunded: 0, refunds: [] });
    });

    it('the same idempotency key creates one payment', async () => {
      const key = randomUUID();
      const input = request();
      const [a, b] = await Promise.all([
        h.provider.createPayment(input, { idempotencyKey: key }),
        h.provider.createPayment(input, { idempotencyKey: key }),
      ]);
      expect(b.id).toBe(a.id);
    });

    it('a paid payment succeeds and sends one signed payment.succeeded naming its reference', async () => {
      const input = request();
      const p = await h.provider.createPayment(input, { idempotencyKey: randomUUID() });
      await h.buyer(p.redirectUrl, 'pay');
      const [{ event, verified }] = await h.events(p.id, 1);
      expect(verified).toBe(true);
      expect(event).toMatchObject({
        type: 'payment.succeeded',
        paymentId: p.id,
        reference: input.reference,
        amount: 2599,
      });
      expect((await h.provider.getPayment(p.id)).status).toBe('SUCCEEDED');
    });

    it('a declined payment fails with payment.failed', async () => {
      const p = await h.provider.createPayment(request(), { idempotencyKey: randomUUID() });
      await h.buyer(p.redirectUrl, 'decline');
      const [{ event }] = await h.events(p.id, 1);
      expect(event.type).toBe('payment.failed');
      expect((await h.provider.getPayment(p.id)).status).toBe('FAILED');
    });

    it('cancelling is idempotent for a pending payment and refused for a paid one', async () => {
      const pending = await h.provider.createPayment(request(), { idempotencyKey: randomUUID() });
      expect((await h.provider.cancelPayment(pending.id)).status).toBe('CANCELLED');
      expect((await h.provider.cancelPayment(pending.id)).status).toBe('CANCELLED');

      const paid = await h.provider.createPayment(request(), { idempotencyKey: randomUUID() });
      await h.buyer(paid.redirectUrl, 'pay');
      await h.events(paid.id, 1);
      await expect(h.provider.cancelPayment(paid.id)).rejects.toBeInstanceOf(ProviderRequestError);
    });

    it('refunds in parts up to the amount, once per idempotency key, never beyond', async () => {
      const p = await h.provider.createPayment(request({ amount: 1000 }), { idempotencyKey: randomUUID() });
      await h.buyer(p.redirectUrl, 'pay');
      await h.events(p.id, 1);
      const key = randomUUID();
      const first = await h.provider.refund(p.id, { amount: 300 }, { idempotencyKey: key });
      const again = await h.provider.refund(p.id, { amount: 300 }, { idempotencyKey: key });
      expect(again.id).toBe(first.id);
      await h.provider.refund(p.id, { amount: 700 }, { idempotencyKey: randomUUID() });
      await expect(
        h.provider.refund(p.id, { amount: 1 }, { idempotencyKey: randomUUID() }),
      ).rejects.toBeInstanceOf(ProviderRequestError);
      const view = await h.provider.getPayment(p.id);
      expect(view.refunded).toBe(1000);
      const refundEvents = (await h.events(p.id, 3)).filter((e) => e.event.type === 'refund.succeeded');
      expect(refundEvents.map((e) => e.event.amount).sort((a, b) => a - b)).toEqual([300, 700]);
    });

    it('an unknown payment is a request error, not an outage', async () => {
      const err = await h.provider.getPayment('pay_does_not_exist').catch((e) => e);
      expect(err).toBeInstanceOf(ProviderRequestError);
      expect(err.status).toBe(404);
    });

    it('an unreachable provider is ProviderUnavailableError (retry later), never a request error', async () => {
      const err = await h.unreachable.getPayment('anything').catch((e) => e);
      expect(err).toBeInstanceOf(ProviderUnavailableError);
    });
  });
}

const API_KEY = 'contract-api-key-0123456789';
const SECRET = 'contract-webhook-secret-0123456789';

cardProviderContract('HttpCardProvider against the sandbox provider', async () => {
  const receiver: Receiver = await startReceiver();
  const sandbox: SandboxProcess = await startSandboxProcess({
    SANDBOX_API_KEY: API_KEY,
    SANDBOX_WEBHOOK_SECRET: SECRET,
    SANDBOX_CALLBACK_BASE_MS: '50',
  });
  const options = { apiKey: API_KEY, retries: 1, retryBaseMs: 20, timeoutMs: 2_000 };
  return {
    provider: new HttpCardProvider({ baseUrl: sandbox.url, ...options }),
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    unreachable: new HttpCardProvider({ baseUrl: 'http://127.0.0.1:9', ...options }),
    callbackUrl: `${receiver.url}/webhooks/payments`,
    async events(paymentId, n) {
      const deliveries = await receiver.waitForDeliveries(paymentId, n);
      return deliveries.map((d) => ({
        event: d.event,
        verified: verify([SECRET], d.signature, d.raw, Date.now() / 1000),
      }));
    },
    async buyer(redirectUrl, action) {
      const res = await fetch(redirectUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ action }).toString(),
        redirect: 'manual',
      });
      if (res.status >= 400) throw new Error(`hosted page answered ${res.status}`);
    },
    async close() {
      await sandbox.stop('SIGTERM');
      await receiver.close();
    },
  };
});
