import { notFound } from './errors';

/** Ids are decimal 64-bit integers; anything else names nothing. */
export const isId = (id: string): boolean => /^\d{1,19}$/.test(id) && BigInt(id) <= 9223372036854775807n;

export function requireId(id: string, what: string): string {
  if (!isId(id)) throw notFound(what, id.slice(0, 40));
  return id;
}
