import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CircuitBreaker, HttpCardProvider } from '../../src/modules/payment/provider/http-card-provider';
import { ProviderUnavailableError } from '../../src/modules/payment/provider/card-provider';
import { sandboxConfigFromEnv } from '../../src/sandbox/config';
import { backoffMs } from '../../src/sandbox/delivery';
import { formatAmount } from '../../src/sandbox/page';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { verify } from '../../src/shared/signature';
import { sleep, startReceiver, type Receiver } from './support';

/** The parts that need no separate process: breaker, config, formatting, and startSandbox in this process. */

describe('CircuitBreaker', () => {
  let now = 0;
  const clock = () => now;

  it('opens after N consecutive failures, lets one probe through after openMs, closes on success', () => {
    now = 0;
    const states: string[] = [];
    const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000 }, clock, (s) => states.push(s));
    b.acquire();
    b.failure();
    b.acquire();
    b.failure();
    b.acquire();
    b.success(); // a success in between starts the count again
    for (let i = 0; i < 2; i++) {
      b.acquire();
      b.failure();
    }
    expect(b.state()).toBe('closed');
    b.acquire();
    b.failure();
    expect(b.state()).toBe('open');

    now = 400;
    let e: unknown;
    try {
      b.acquire();
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(ProviderUnavailableError);
    expect(e).toMatchObject({ reason: 'circuit_open', retryAfterMs: 600 });

    now = 1_000;
    expect(b.state()).toBe('half-open');
    b.acquire(); // the probe
    expect(() => b.acquire()).toThrow(ProviderUnavailableError); // only one at a time
    b.failure();
    expect(b.state()).toBe('open');
    now = 1_999;
    expect(() => b.acquire()).toThrow(ProviderUnavailableError);
    now = 2_000;
    b.acquire();
    b.success();
    expect(b.state()).toBe('closed');
    b.acquire();
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  });
});

describe('sandboxConfigFromEnv', () => {
  it('has development defaults', () => {
    expect(sandboxConfigFromEnv({})).toEqual({
      port: 4010,
      host: '127.0.0.1',
      apiKey: 'sandbox-api-key',
      webhookSecret: ['sandbox-secret'],
      publicUrl: undefined,
      defaultCallbackUrl: undefined,
      delivery: { baseMs: 200, maxMs: 10_000, maxAttempts: 8, timeoutMs: 5_000 },
    });
  });

  it('requires the key and the secret in production', () => {
    expect(() => sandboxConfigFromEnv({ NODE_ENV: 'production', SANDBOX_WEBHOOK_SECRET: 's' })).toThrow(
      /SANDBOX_API_KEY is required/,
    );
    expect(() => sandboxConfigFromEnv({ NODE_ENV: 'production', SANDBOX_API_KEY: 'k' })).toThrow(
      /SANDBOX_WEBHOOK_SECRET is required/,
    );
  });

  it('reads a rotation list, URLs and numbers, and rejects bad ones', () => {
    const c = sandboxConfigFromEnv({
      SANDBOX_WEBHOOK_SECRET: 'new-secret, old-secret',
      SANDBOX_PUBLIC_URL: 'https://pay.example.test',
      SANDBOX_CALLBACK_URL: 'http://127.0.0.1:4000/webhooks/payments',
      SANDBOX_PORT: '0',
      SANDBOX_CALLBACK_MAX_ATTEMPTS: '3',
    });
    expect(c).toMatchObject({
      webhookSecret: ['new-secret', 'old-secret'],
      publicUrl: 'https://pay.example.test',
      defaultCallbackUrl: 'http://127.0.0.1:4000/webhooks/payments',
      port: 0,
    });
    expect(c.delivery.maxAttempts).toBe(3);
    expect(() => sandboxConfigFromEnv({ SANDBOX_PORT: '70000' })).toThrow(/SANDBOX_PORT/);
    expect(() => sandboxConfigFromEnv({ SANDBOX_PUBLIC_URL: 'ftp://x' })).toThrow(/SANDBOX_PUBLIC_URL/);
    expect(() => sandboxConfigFromEnv({ SANDBOX_WEBHOOK_SECRET: 'a,,b' })).toThrow(/empty secret/);
    expect(() => sandboxConfigFromEnv({ SANDBOX_CALLBACK_BASE_MS: '-1' })).toThrow(
      /SANDBOX_CALLBACK_BASE_MS/,
    );
  });
});

describe('helpers', () => {
  it('formats minor units with the currency’s decimals', () => {
    expect(formatAmount(1234, 'EUR')).toBe('12.34 EUR');
    expect(formatAmount(5, 'EUR')).toBe('0.05 EUR');
    expect(formatAmount(1234, 'JPY')).toBe('1234 JPY');
    expect(formatAmount(1234, 'BHD')).toBe('1.234 BHD');
  });

  it('backs off exponentially up to the cap', () => {
    const o = { baseMs: 200, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, o))).toEqual([200, 400, 800, 1_000, 1_000]);
  });
});

describe('startSandbox in this process', () => {
  let sandbox: RunningSandbox;
  let receiver: Receiver;
  const warnings: string[] = [];

  beforeAll(async () => {
    receiver = await startReceiver();
    sandbox = await startSandbox({
      apiKey: 'k',
      webhookSecret: ['new-secret', 'old-secret'],
      delivery: { baseMs: 50, maxMs: 200, maxAttempts: 3, timeoutMs: 1_000 },
      onWarning: (m) => warnings.push(m),
    });
  });

  afterAll(async () => {
    await sandbox.close();
    await receiver.close();
  });

  const client = () => new HttpCardProvider({ baseUrl: sandbox.url, apiKey: 'k', retries: 0 });
  const input = () => ({
    amount: 700,
    currency: 'EUR',
    reference: randomUUID(),
    callbackUrl: `${receiver.url}/hook`,
  });

  it('signs with every secret of a rotation; idle() waits for deliveries', async () => {
    receiver.respond = () => 200;
    const p = await client().createPayment(input(), { idempotencyKey: randomUUID() });
    sandbox.provider.settle(p.id, 'pay');
    await sandbox.provider.idle();
    const [d] = receiver.forPayment(p.id);
    expect(d!.signature!.match(/v1=/g)).toHaveLength(2);
    const now = Math.floor(Date.now() / 1000);
    expect(verify(['old-secret'], d!.signature, d!.raw, now)).toBe(true);
    expect(verify(['new-secret'], d!.signature, d!.raw, now)).toBe(true);
    expect(sandbox.provider.events.at(-1)).toEqual(d!.event);
  });

  it('gives up after maxAttempts and says so', async () => {
    receiver.respond = () => 503;
    const before = structuredClone(sandbox.provider.stats.deliveries);
    const p = await client().createPayment(input(), { idempotencyKey: randomUUID() });
    sandbox.provider.settle(p.id, 'decline');
    await sandbox.provider.idle();
    expect(receiver.forPayment(p.id).map((d) => d.attempt)).toEqual([1, 2, 3]);
    const after = sandbox.provider.stats.deliveries;
    expect(after.gaveUp).toBe(before.gaveUp + 1);
    expect(after.failedAttempts).toBe(before.failedAttempts + 3);
    expect(warnings.some((w) => w.includes('given up after 3 attempts'))).toBe(true);
  });

  it('counts an unreachable callback URL as a failed attempt', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const before = sandbox.provider.stats.deliveries.gaveUp;
    const p = await client().createPayment(
      { ...input(), callbackUrl: `http://127.0.0.1:${port}/nobody` },
      { idempotencyKey: randomUUID() },
    );
    sandbox.provider.settle(p.id, 'pay');
    await sandbox.provider.idle();
    expect(sandbox.provider.stats.deliveries.gaveUp).toBe(before + 1);

    // The client sees the same closed port as a network failure, after its retries.
    const c = new HttpCardProvider({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: 'k',
      retries: 2,
      retryBaseMs: 5,
    });
    const e = await c.getPayment('pay_x').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProviderUnavailableError);
    expect(e).toMatchObject({ reason: 'network' });
  });

  it('close() stops deliveries in backoff at once', async () => {
    const other = await startSandbox({
      apiKey: 'k',
      webhookSecret: 's',
      delivery: { baseMs: 5_000, maxMs: 5_000, maxAttempts: 5, timeoutMs: 1_000 },
    });
    receiver.respond = () => 500;
    const p = other.provider.createPayment({ ...input(), callbackUrl: `${receiver.url}/hook` });
    other.provider.settle(p.id, 'pay');
    await receiver.waitForDeliveries(p.id, 1);
    const t0 = Date.now();
    await other.close();
    await other.provider.idle();
    expect(Date.now() - t0).toBeLessThan(1_000);
    await sleep(100);
    expect(receiver.forPayment(p.id)).toHaveLength(1);
    expect(other.provider.stats.deliveries.pending).toBe(0);
  });
});
