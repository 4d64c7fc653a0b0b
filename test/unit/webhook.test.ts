import { Webhook } from 'standardwebhooks';
import { retryDelayMs } from '../../src/modules/webhook/webhook.retry';
import { newSecret, signatureOf, signedHeaders } from '../../src/modules/webhook/webhook.signature';
import {
  nonPublicRange,
  parseEndpointUrl,
  resolveTarget,
  UrlRefused,
} from '../../src/modules/webhook/webhook.url';

describe('Standard Webhooks signatures', () => {
  test('the standardwebhooks package verifies what we sign, and refuses a changed id, time or body', () => {
    const secret = newSecret();
    const body = JSON.stringify({
      type: 'order.created',
      timestamp: new Date().toISOString(),
      data: { x: 'é✓' },
    });
    const headers = signedHeaders(secret, 'msg_42', body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body + ' ', headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_43' })).toThrow();
    const ts = String(Number(headers['webhook-timestamp']) + 1);
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-timestamp': ts })).toThrow();
  });

  test('a known vector from the specification', () => {
    // From the Standard Webhooks reference implementation's tests.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    expect(signatureOf(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });
});

test('retries wait base × 2^(n−1), capped, within ±20 % jitter', () => {
  expect(retryDelayMs(1, 10, 3600, () => 0.5)).toBe(10_000);
  expect(retryDelayMs(2, 10, 3600, () => 0.5)).toBe(20_000);
  expect(retryDelayMs(5, 10, 3600, () => 0.5)).toBe(160_000);
  expect(retryDelayMs(20, 10, 3600, () => 0.5)).toBe(3_600_000);
  expect(retryDelayMs(3, 10, 3600, () => 0)).toBe(32_000);
  expect(retryDelayMs(3, 10, 3600, () => 0.999999)).toBe(48_000);
  expect(retryDelayMs(1, 0.05, 1, () => 0.5)).toBe(50);
});

describe('endpoint URLs', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.10.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['0.0.0.0', 'unspecified'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['224.0.0.1', 'multicast'],
  ])('%s is not public (%s)', (address, range) => {
    expect(nonPublicRange(address)).toBe(range);
  });

  test.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])('%s is public', (address) => {
    expect(nonPublicRange(address)).toBeNull();
  });

  test('form: http(s) only, https only in production, no credentials, fragment dropped', () => {
    expect(parseEndpointUrl('http://localhost:3000/hook#x', false).toString()).toBe(
      'http://localhost:3000/hook',
    );
    expect(() => parseEndpointUrl('http://example.com/', true)).toThrow('https');
    expect(() => parseEndpointUrl('javascript:alert(1)', false)).toThrow(UrlRefused);
    expect(() => parseEndpointUrl('https://a:b@example.com/', false)).toThrow('credentials');
    expect(() => parseEndpointUrl('::::', false)).toThrow('malformed');
    expect(() => parseEndpointUrl(`https://example.com/${'a'.repeat(2048)}`, false)).toThrow('characters');
  });

  test('a name with any non-public address among its answers is refused; literals need no lookup', async () => {
    const resolve = async (host: string) =>
      host === 'mixed.test'
        ? [
            { address: '93.184.216.34', family: 4 },
            { address: '10.0.0.1', family: 4 },
          ]
        : [{ address: '93.184.216.34', family: 4 }];
    await expect(resolveTarget(new URL('https://mixed.test/'), true, resolve)).rejects.toThrow(
      '10.0.0.1, a private',
    );
    await expect(resolveTarget(new URL('https://ok.test/'), true, resolve)).resolves.toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    await expect(resolveTarget(new URL('https://[::1]/'), true, resolve)).rejects.toThrow('loopback');
    await expect(resolveTarget(new URL('http://127.0.0.1/'), false, resolve)).resolves.toEqual({
      address: '127.0.0.1',
      family: 4,
    });
  });
});
