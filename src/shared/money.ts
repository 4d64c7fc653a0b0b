import { badInput } from './errors';

/** Two minor digits, as for USD and EUR; one currency per deployment (DESIGN.md). */
const MINOR_DIGITS = 2;
/** Minor units per whole currency unit. */
export const MINOR_PER_UNIT = 10 ** MINOR_DIGITS;
const SCALE = MINOR_PER_UNIT;
/** Upper bound for a single amount: keeps every sum far inside Number.MAX_SAFE_INTEGER. */
export const MAX_MINOR = 100_000_000_00;

export function formatMinor(minor: number): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const major = Math.floor(abs / SCALE);
  const rest = String(abs % SCALE).padStart(MINOR_DIGITS, '0');
  return `${sign}${major}.${rest}`;
}

/** Parses "19.99" or "20" into minor units; rejects negatives, floats beyond cents and junk. */
export function parseMoney(input: string, field: string): number {
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(input.trim());
  if (!m) throw badInput(`${field} must be a non-negative amount such as "19.99"`, field);
  const minor = Number(m[1]) * SCALE + Number((m[2] ?? '').padEnd(MINOR_DIGITS, '0'));
  if (minor > MAX_MINOR) throw badInput(`${field} is too large`, field);
  return minor;
}
