import { badInput } from './errors';

/** Cursors are opaque to clients: base64url of a JSON array of the keyset values. */
export function encodeCursor(values: (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: ('string' | 'number')[]): (string | number)[] {
  const fail = () => badInput('Malformed cursor', 'after');
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw fail();
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw fail();
  }
  if (!Array.isArray(values) || values.length !== shape.length) throw fail();
  values.forEach((v, i) => {
    if (typeof v !== shape[i]) throw fail();
    if (typeof v === 'string' && !/^-?\d+(\.\d+)?(e-?\d+)?$/i.test(v)) throw fail();
  });
  return values as (string | number)[];
}

export function checkPageSize(first: number, max: number): number {
  if (!Number.isInteger(first) || first < 0 || first > max) {
    throw badInput(`first must be between 0 and ${max}`, 'first');
  }
  return first;
}
