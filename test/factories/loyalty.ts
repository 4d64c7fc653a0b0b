import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEntry, LoyaltyEntryKind } from '../../src/modules/loyalty/loyalty.store';

/**
 * Gives a customer `points` through the loyalty ledger (an ADJUST entry), so the balance stays the
 * sum of the entries (test/support/money-invariants.ts). Tests that want points to spend use this
 * instead of writing app_user.points.
 */
export async function grantPoints(em: EntityManager, userId: string, points: number): Promise<void> {
  const entry = await appendEntry(em, {
    userId,
    kind: LoyaltyEntryKind.ADJUST,
    amount: points,
    cause: `adjust:test:${randomUUID()}`,
  });
  if (!entry) throw new Error(`could not grant ${points} points to user ${userId}`);
}
