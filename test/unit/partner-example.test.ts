import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The example partner's Standard Webhooks verification (examples/partner/partner.mjs), checked
 * against the test vector published with the Standard Webhooks reference libraries.
 */
const script = join(__dirname, '../../examples/partner/partner.mjs');

function verify(secret: string, headers: Record<string, string>, body: string, now: number): string {
  const code = `
    const { verifyWebhook } = await import(${JSON.stringify(script)});
    try { const r = verifyWebhook(${JSON.stringify(secret)}, ${JSON.stringify(headers)}, ${JSON.stringify(body)}, { now: ${now} });
      console.log('ok ' + r.id + ' ' + JSON.stringify(r.event)); } catch (e) { console.log('refused ' + e.message); }`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }).trim();
}

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = '1614265330';
const BODY = '{"test": 2432232314}';
const SIG = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = Number(TS) * 1000;

test('accepts the reference vector, also among several signatures (rotation)', () => {
  const h = { 'webhook-id': ID, 'webhook-timestamp': TS, 'webhook-signature': SIG };
  expect(verify(SECRET, h, BODY, AT)).toBe(`ok ${ID} {"test":2432232314}`);
  expect(verify(SECRET, { ...h, 'webhook-signature': `v1,bm90IGl0 ${SIG}` }, BODY, AT)).toMatch(/^ok/);
});

test('refuses a changed body, id or timestamp, another secret, and an old timestamp', () => {
  const h = { 'webhook-id': ID, 'webhook-timestamp': TS, 'webhook-signature': SIG };
  expect(verify(SECRET, h, BODY.replace('2', '3'), AT)).toBe('refused no valid signature');
  expect(verify(SECRET, { ...h, 'webhook-id': `${ID}x` }, BODY, AT)).toBe('refused no valid signature');
  expect(verify(SECRET, { ...h, 'webhook-timestamp': String(Number(TS) + 1) }, BODY, AT)).toBe(
    'refused no valid signature',
  );
  expect(verify('whsec_' + Buffer.from('other').toString('base64'), h, BODY, AT)).toBe(
    'refused no valid signature',
  );
  expect(verify(SECRET, h, BODY, AT + 301_000)).toBe('refused timestamp outside the tolerance');
  expect(verify(SECRET, { 'webhook-id': ID }, BODY, AT)).toMatch(/^refused missing/);
});
