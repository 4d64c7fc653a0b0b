import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, UserError } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import type { Jobs } from '../../shared/jobs';
import {
  LedgerEntryKind,
  PostingKind,
  PROVIDER_CLEARING,
  userAvailable,
  type LedgerService,
} from '../ledger/ledger.service';
import { REFUND_JOB, type RefundRow } from './refund.service';

/** How an admin settles a card refund the provider would not pay out. */
export enum RefundResolution {
  /** The buyer gets the amount on their balance instead of the card. */
  TO_BALANCE = 'TO_BALANCE',
  /** The money reached the buyer another way (the provider's console, a bank transfer): only recorded. */
  REFUNDED_OUTSIDE = 'REFUNDED_OUTSIDE',
}

export interface AttentionRow extends RefundRow {
  buyer_id: string;
  method: string;
  resolution: RefundResolution | null;
  resolution_note: string | null;
  resolved_at: Date | null;
}

const SELECT = `select r.*, p.user_id as buyer_id, p.method from refund r join payment p on p.id = r.payment_id`;

/**
 * Refunds that ended NEEDS_ATTENTION (the provider refused or failed MAX_REFUND_ATTEMPTS times):
 * listed for admins, retried once the cause is fixed, or resolved. Either way the ledger stays
 * right: the refund's own posting was made when it was created (the merchant's and fee share
 * moved to PROVIDER_CLEARING, which the provider pays out); a retry or REFUNDED_OUTSIDE adds
 * nothing, TO_BALANCE moves the amount from PROVIDER_CLEARING to the buyer's balance.
 */
export class RefundAttentionService {
  constructor(
    private readonly ledger: LedgerService,
    private readonly jobs: Jobs,
  ) {}

  list(em: EntityManager, first: number): Promise<AttentionRow[]> {
    return sqlAll<AttentionRow>(
      em,
      `${SELECT} where r.status = 'NEEDS_ATTENTION' order by r.updated_at, r.id limit $1`,
      [first],
    );
  }

  /** Pays it out again through the provider (a fresh set of attempts). A repeat does nothing more. */
  retry(em: EntityManager, id: string): Promise<AttentionRow | UserError> {
    return inTransaction<AttentionRow, UserError>(em, async (tx) => {
      const r = await this.lock(tx, id);
      if (r.status === 'PENDING') return r; // already retried
      if (r.status !== 'NEEDS_ATTENTION') throw new Rollback(invalid(r, 'retried'));
      await sqlAll(
        tx,
        `update refund set status = 'PENDING', attempts = 0, last_error = null, updated_at = now() where id = $1`,
        [id],
      );
      await this.jobs.send(REFUND_JOB, { refundId: id }, { em: tx });
      return this.lock(tx, id);
    });
  }

  /** Settles it without the provider; idempotent (the same resolution again answers the refund). */
  resolve(
    em: EntityManager,
    adminId: string,
    id: string,
    resolution: RefundResolution,
    note: string,
  ): Promise<AttentionRow | UserError> {
    return inTransaction<AttentionRow, UserError>(em, async (tx) => {
      const r = await this.lock(tx, id);
      if (r.status === 'SUCCEEDED' && r.resolution === resolution) return r;
      if (r.status !== 'NEEDS_ATTENTION') throw new Rollback(invalid(r, 'resolved'));
      if (resolution === RefundResolution.TO_BALANCE) {
        const amount = Number(r.amount);
        await this.ledger.post(tx, {
          kind: PostingKind.ADJUSTMENT,
          reference: `refund-to-balance:${r.id}`,
          lines: [
            { account: PROVIDER_CLEARING, amount: -amount, entryKind: LedgerEntryKind.ADJUSTMENT },
            { account: userAvailable(String(r.buyer_id)), amount, entryKind: LedgerEntryKind.REFUND },
          ],
        });
      }
      await sqlAll(
        tx,
        `update refund set status = 'SUCCEEDED', resolution = $2, resolved_by = $3, resolved_at = now(),
                resolution_note = $4, updated_at = now() where id = $1`,
        [id, resolution, adminId, note],
      );
      return this.lock(tx, id);
    });
  }

  private async lock(tx: EntityManager, id: string): Promise<AttentionRow> {
    const [r] = isId(id)
      ? await sqlAll<AttentionRow>(tx, `${SELECT} where r.id = $1 for update of r`, [id])
      : [];
    if (!r) throw notFound('Refund', id.slice(0, 40));
    return r;
  }
}

const invalid = (r: AttentionRow, what: string) =>
  UserError.of(
    ErrorCode.REFUND_STATE_INVALID,
    `Refund ${r.id} is ${r.status}${r.resolution ? ` (${r.resolution})` : ''}; only a refund that needs attention can be ${what}`,
    'id',
  );
