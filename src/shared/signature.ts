import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures (DESIGN.md "HTTP surface"): `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(
 * secret, "<t>.<raw body>")>`, possibly with several `v1=` values while a secret is rotated. Pure:
 * the clock is a parameter, so the main server's webhook routes and the sandbox share this file.
 */

export const SIGNATURE_HEADER = 'X-Signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Longer headers are rejected unparsed: a few signatures fit many times over. */
const MAX_HEADER_LENGTH = 2048;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;
const UNIX_SECONDS = /^\d{1,12}$/;

function hmac(secret: string, timestamp: number, rawBody: string | Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/**
 * The header value for `rawBody` signed at `nowSeconds`, with one `v1=` per secret (pass the new
 * and the old secret during a rotation so that receivers knowing either accept it).
 */
export function sign(
  secret: string | readonly string[],
  rawBody: string | Uint8Array,
  nowSeconds: number,
): string {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) throw new Error('sign: empty secret');
  const t = Math.floor(nowSeconds);
  return [`t=${t}`, ...secrets.map((s) => `v1=${hmac(s, t, rawBody).toString('hex')}`)].join(',');
}

export interface ParsedSignature {
  timestamp: number;
  /** The well-formed `v1=` values, decoded. Other schemes and malformed values are left out. */
  signatures: Buffer[];
}

/** `null` when the header is missing, too long, has no single numeric `t=` or no well-formed `v1=`. */
export function parseSignatureHeader(header: string | undefined | null): ParsedSignature | null {
  if (typeof header !== 'string' || header.length === 0 || header.length > MAX_HEADER_LENGTH) return null;
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      // Two timestamps: which one was signed is ambiguous, so the whole header is.
      if (timestamp !== undefined || !UNIX_SECONDS.test(value)) return null;
      timestamp = Number(value);
    } else if (key === 'v1' && HEX_SHA256.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === undefined || signatures.length === 0) return null;
  return { timestamp, signatures };
}

/**
 * True when some `v1=` of `header` is the signature of `rawBody` (the bytes as received, before any
 * JSON parsing) under some secret, and its timestamp is within `toleranceSeconds` of `nowSeconds`
 * in either direction.
 */
export function verify(
  secrets: readonly string[],
  header: string | undefined | null,
  rawBody: string | Uint8Array,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  const parsed = parseSignatureHeader(header);
  if (!parsed) return false;
  if (Math.abs(nowSeconds - parsed.timestamp) > toleranceSeconds) return false;
  let ok = false;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    const expected = hmac(secret, parsed.timestamp, rawBody);
    // No early exit: the time taken does not tell which secret or which value matched.
    for (const candidate of parsed.signatures) ok = timingSafeEqual(expected, candidate) || ok;
  }
  return ok;
}
