import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, UserError } from '../../shared/error-result';
import { badInput, notFound } from '../../shared/errors';
import { claimKey, digest } from '../../shared/idempotency';
import { appendEntry, findEntry, LoyaltyEntryKind, type LoyaltyEntry } from './loyalty.store';

/** The largest correction in one go (either way): far inside the integer columns. */
export const MAX_ADJUSTMENT = 1_000_000_000;

/**
 * An admin corrects a customer's points (goodwill, a lost order, forgiving a debt). A credit pays
 * what is owed first, a debit beyond the balance is owed, as with every other entry. Idempotent by
 * the admin's key: the same request again answers the same entry; the key with another request is
 * IDEMPOTENCY_KEY_REUSED.
 */
export function adjustPoints(
  em: EntityManager,
  adminId: string,
  req: { userId: string; points: number; reason: string; idempotencyKey: string },
): Promise<LoyaltyEntry | UserError> {
  return inTransaction<LoyaltyEntry, UserError>(em, async (tx) => {
    const claim = await claimKey(
      tx,
      adminId,
      'points-adjust',
      req.idempotencyKey,
      digest({ userId: req.userId, points: req.points, reason: req.reason }),
      'next_order_id($1)::text',
    );
    const cause = `adjust:${claim.resultRef}`;
    if (!claim.claimed) {
      if (!claim.sameRequest)
        throw new Rollback(
          UserError.of(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            'This idempotency key was used for a different adjustment',
            'idempotencyKey',
          ),
        );
      const earlier = await findEntry(tx, req.userId, cause);
      if (earlier) return earlier;
    }
    const [user] = await sqlAll(tx, 'select 1 from app_user where id = $1', [req.userId]);
    if (!user) throw notFound('User', req.userId);
    const entry = await appendEntry(tx, {
      userId: req.userId,
      kind: LoyaltyEntryKind.ADJUST,
      amount: req.points,
      cause,
      note: req.reason,
    });
    // Only a credit at the very top of the integer range can move nothing.
    if (!entry) throw badInput('The balance cannot hold more points', 'points');
    return entry;
  });
}
