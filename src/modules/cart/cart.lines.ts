import { badInput } from '../../shared/errors';

/**
 * List arguments are capped before anything touches the database: a cart holds at most
 * CART_MAX_LINES lines, so a longer list in one call is a mistake or an attack (5,000 copies of a
 * line once ran 15,000 statements holding the cart's lock).
 */
export function capList<T>(list: T[] | null | undefined, max: number, field: string): T[] {
  const items = list ?? [];
  if (items.length > max)
    throw badInput(`${field} may hold at most ${max} entries, got ${items.length}`, field);
  return items;
}

/** Lines naming one variant several times become one line with their quantities added. */
export function mergeLines<L extends { variantId: string; quantity: number }>(lines: L[]): L[] {
  const byVariant = new Map<string, L>();
  for (const l of lines) {
    const seen = byVariant.get(l.variantId);
    byVariant.set(l.variantId, seen ? { ...seen, quantity: seen.quantity + l.quantity } : l);
  }
  return [...byVariant.values()];
}

/** Updates naming one line several times: the last one wins, as if they were applied in order. */
export function mergeUpdates<U extends { lineId: string; quantity: number }>(updates: U[]): U[] {
  const byLine = new Map<string, U>();
  for (const u of updates) {
    byLine.delete(u.lineId);
    byLine.set(u.lineId, u);
  }
  return [...byLine.values()];
}
