import { createHmac } from 'node:crypto';
import { parseSignatureHeader, sign, verify } from '../../src/shared/signature';

const SECRET = 'whsec-current-0123456789';
const OLD = 'whsec-previous-0123456789';
const NOW = 1_760_000_000;
const BODY = JSON.stringify({ id: 'evt_1', type: 'payment.succeeded', amount: 1234, reference: 'ünïcødé €' });

const hex = (secret: string, t: number, body: string) =>
  createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

describe('sign', () => {
  it('produces t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>', () => {
    expect(sign(SECRET, BODY, NOW)).toBe(`t=${NOW},v1=${hex(SECRET, NOW, BODY)}`);
  });

  it('adds one v1 per secret during a rotation', () => {
    expect(sign([SECRET, OLD], BODY, NOW)).toBe(
      `t=${NOW},v1=${hex(SECRET, NOW, BODY)},v1=${hex(OLD, NOW, BODY)}`,
    );
  });

  it('signs the raw bytes: a Buffer and its UTF-8 string sign the same', () => {
    expect(sign(SECRET, Buffer.from(BODY, 'utf8'), NOW)).toBe(sign(SECRET, BODY, NOW));
  });

  it('refuses an empty secret', () => {
    expect(() => sign('', BODY, NOW)).toThrow();
    expect(() => sign([], BODY, NOW)).toThrow();
  });
});

describe('verify', () => {
  const header = sign(SECRET, BODY, NOW);

  it('accepts a valid signature, over a string or the raw Buffer', () => {
    expect(verify([SECRET], header, BODY, NOW)).toBe(true);
    expect(verify([SECRET], header, Buffer.from(BODY), NOW)).toBe(true);
  });

  it('rejects a tampered body', () => {
    expect(verify([SECRET], header, BODY.replace('1234', '1235'), NOW)).toBe(false);
    expect(verify([SECRET], header, `${BODY} `, NOW)).toBe(false);
  });

  it('rejects a wrong secret, and an empty list of secrets', () => {
    expect(verify(['not-the-secret'], header, BODY, NOW)).toBe(false);
    expect(verify([], header, BODY, NOW)).toBe(false);
    expect(verify([''], header, BODY, NOW)).toBe(false);
  });

  it('rejects a tampered timestamp (the signature covers it)', () => {
    const moved = header.replace(`t=${NOW}`, `t=${NOW + 1}`);
    expect(verify([SECRET], moved, BODY, NOW)).toBe(false);
  });

  describe('rotation', () => {
    it('accepts a header with two v1 values when either secret is known', () => {
      const both = sign([SECRET, OLD], BODY, NOW);
      expect(verify([SECRET], both, BODY, NOW)).toBe(true);
      expect(verify([OLD], both, BODY, NOW)).toBe(true);
      expect(verify(['other'], both, BODY, NOW)).toBe(false);
    });

    it('accepts a header signed with either of two configured secrets', () => {
      expect(verify([SECRET, OLD], sign(OLD, BODY, NOW), BODY, NOW)).toBe(true);
      expect(verify([SECRET, OLD], sign(SECRET, BODY, NOW), BODY, NOW)).toBe(true);
    });

    it('accepts when only a later v1 matches, ignoring other schemes', () => {
      const h = `t=${NOW},v0=${hex(SECRET, NOW, BODY)},v1=${'0'.repeat(64)},v1=${hex(SECRET, NOW, BODY)}`;
      expect(verify([SECRET], h, BODY, NOW)).toBe(true);
    });
  });

  describe('timestamps', () => {
    it('accepts up to 300 s away in either direction', () => {
      expect(verify([SECRET], header, BODY, NOW + 300)).toBe(true);
      expect(verify([SECRET], header, BODY, NOW - 300)).toBe(true);
    });

    it('rejects a stale timestamp (301 s old)', () => {
      expect(verify([SECRET], sign(SECRET, BODY, NOW - 301), BODY, NOW)).toBe(false);
    });

    it('rejects a future timestamp (301 s ahead)', () => {
      expect(verify([SECRET], sign(SECRET, BODY, NOW + 301), BODY, NOW)).toBe(false);
    });

    it('honours another tolerance', () => {
      expect(verify([SECRET], header, BODY, NOW + 10, 5)).toBe(false);
      expect(verify([SECRET], header, BODY, NOW + 10, 10)).toBe(true);
    });
  });

  describe('malformed headers', () => {
    const v1 = hex(SECRET, NOW, BODY);
    const cases: [string, string | undefined | null][] = [
      ['missing', undefined],
      ['null', null],
      ['empty', ''],
      ['garbage', 'garbage'],
      ['no timestamp', `v1=${v1}`],
      ['no signature', `t=${NOW}`],
      ['non-numeric timestamp', `t=abc,v1=${v1}`],
      ['negative timestamp', `t=-${NOW},v1=${v1}`],
      ['fractional timestamp', `t=${NOW}.5,v1=${v1}`],
      ['two timestamps', `t=${NOW},t=${NOW},v1=${v1}`],
      ['non-hex signature', `t=${NOW},v1=${'z'.repeat(64)}`],
      ['short signature', `t=${NOW},v1=${v1.slice(0, 62)}`],
      ['long signature', `t=${NOW},v1=${v1}00`],
      ['base64 signature', `t=${NOW},v1=${Buffer.from(v1, 'hex').toString('base64')}`],
      ['semicolons', `t=${NOW};v1=${v1}`],
      ['huge', `t=${NOW},${'v1=00,'.repeat(1000)}v1=${v1}`],
    ];
    it.each(cases)('rejects %s', (_name, h) => {
      expect(verify([SECRET], h, BODY, NOW)).toBe(false);
    });

    it('tolerates spaces around the parts', () => {
      expect(verify([SECRET], ` t=${NOW} , v1=${v1} `, BODY, NOW)).toBe(true);
      expect(verify([SECRET], `t=${NOW},v1=${v1.toUpperCase()}`, BODY, NOW)).toBe(true);
    });

    it('parses into a timestamp and the decoded signatures', () => {
      expect(parseSignatureHeader(`t=${NOW},v1=${v1},v2=ab`)).toEqual({
        timestamp: NOW,
        signatures: [Buffer.from(v1, 'hex')],
      });
      expect(parseSignatureHeader('t=1')).toBeNull();
    });
  });
});
