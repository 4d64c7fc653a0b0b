import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { loadConfig, requireMailTransport } from '../../src/config';
import { SmtpMailer } from '../../src/modules/mail/smtp-mailer';
import { LogMailer, maskAddress } from '../../src/modules/mail/mailer';
import { createLogger } from '../../src/server/protection/log';
import { Writable } from 'node:stream';

/** Issue 12 (docs/accounts.md): verification by mail is the production default; `off` only when chosen. */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const config = (env: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), 'signup-config-'));
  dirs.push(dir);
  return loadConfig({ DATA_DIR: dir, ...env });
};
const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/shop',
  PAYMENT_PROVIDER_URL: 'https://provider.example.com',
  JWT_SECRET: 'jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'payment-secret-0123456789',
  LOGISTICS_WEBHOOK_SECRET: 'logistics-secret-0123456789',
  PAYMENT_PROVIDER_API_KEY: 'provider-api-key-0123456789',
  METRICS_TOKEN: 'metrics-token-0123456789',
};

test('production verifies by mail unless `off` is chosen; development signs in at once', () => {
  expect(config(PRODUCTION).signup.verification).toBe('email');
  expect(config({ ...PRODUCTION, SIGNUP_VERIFICATION: 'off' }).signup.verification).toBe('off');
  expect(config({}).signup.verification).toBe('off');
  expect(config({ SIGNUP_VERIFICATION: 'email' }).signup).toMatchObject({
    verification: 'email',
    tokenTtlSeconds: 24 * 3600,
    mailsPerAddressPerHour: 5,
  });
});

test('bad values are refused by name', () => {
  expect(() => config({ SIGNUP_VERIFICATION: 'maybe' })).toThrow(
    'Invalid configuration: SIGNUP_VERIFICATION must be "email" or "off", got "maybe"',
  );
  expect(() => config({ ...PRODUCTION, SIGNUP_CONFIRM_URL: 'http://shop.example.com/confirm' })).toThrow(
    /SIGNUP_CONFIRM_URL must use https:/,
  );
  expect(() => config({ MAIL_MAX_PER_ADDRESS_PER_HOUR: '0' })).toThrow(/MAIL_MAX_PER_ADDRESS_PER_HOUR/);
});

test('the log mailer shows the whole mail in development, never its text in production', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = createLogger('info', sink);
  const mail = {
    to: 'ada@example.com',
    kind: 'signup.confirm',
    subject: 'Confirm',
    text: 'code: SECRET-CODE',
  };
  await new LogMailer(log, true).send(mail, 'shop@example.com');
  await new LogMailer(log, false).send(mail, 'shop@example.com');
  expect(lines[0]).toContain('SECRET-CODE');
  expect(lines[1]).not.toContain('SECRET-CODE');
  expect(lines[1]).not.toContain('ada@example.com');
  expect(lines[1]).toContain(maskAddress('ada@example.com'));
  expect(maskAddress('ada@example.com')).toBe('a***@example.com');
});

test('production with verification by mail needs SMTP_URL to start; `off` or an SMTP server satisfies it', () => {
  expect(() => requireMailTransport(config(PRODUCTION))).toThrow(
    /^Invalid configuration: SMTP_URL is required when NODE_ENV=production and SIGNUP_VERIFICATION=email/,
  );
  expect(() => requireMailTransport(config({ ...PRODUCTION, SIGNUP_VERIFICATION: 'off' }))).not.toThrow();
  expect(() =>
    requireMailTransport(config({ ...PRODUCTION, SMTP_URL: 'smtps://u:p@mail.example.com' })),
  ).not.toThrow();
  expect(() => config({ SMTP_URL: 'http://mail.example.com' })).toThrow(/SMTP_URL must use smtp: or smtps:/);
});

test('the SMTP mailer hands a mail to a real SMTP server', async () => {
  const received: { from?: string; to: string[]; data: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, done) {
      let data = '';
      stream.on('data', (c: Buffer) => (data += c.toString()));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          data,
        });
        done();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.server.address() as AddressInfo).port;
    const mailer = new SmtpMailer(`smtp://127.0.0.1:${port}`, 5000);
    await mailer.send(
      {
        to: 'ada@example.com',
        kind: 'signup.confirm',
        subject: 'Confirm your new account',
        text: 'Code: abc',
      },
      'shop@example.com',
    );
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ from: 'shop@example.com', to: ['ada@example.com'] });
    expect(received[0].data).toContain('Subject: Confirm your new account');
    expect(received[0].data).toContain('X-Mail-Kind: signup.confirm');
    expect(received[0].data).toContain('Code: abc');
    // A server that is not there fails the send (the delivery job then retries).
    await expect(
      new SmtpMailer('smtp://127.0.0.1:9', 1000).send(
        { to: 'a@example.com', kind: 'k', subject: 's', text: 't' },
        'shop@example.com',
      ),
    ).rejects.toThrow();
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
