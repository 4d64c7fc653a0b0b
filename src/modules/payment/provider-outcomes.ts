import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, RetryTransaction } from '../../db/transaction';
import type { CardProvider, PaymentEvent } from './provider/card-provider';
import { paymentLifecycle, PaymentStatus } from './payment.lifecycle';
import { findPayment, lockPayment, type PaymentRow } from './payment.store';
import type { RefundService } from './refund.service';
import { settlePayment, type SettlementDeps } from './settlement';

/** The status a provider event asks for; null for a refund event (it names a refund, not a status). */
function targetOf(event: PaymentEvent): PaymentStatus | null {
  switch (event.type) {
    case 'payment.succeeded':
      return PaymentStatus.SUCCEEDED;
    case 'payment.failed':
      return PaymentStatus.FAILED;
    case 'payment.cancelled':
      return PaymentStatus.CANCELLED;
    default:
      return null;
  }
}

/** Whether no status reachable from `from` (itself included) can move to `to`: the event is moot for good. */
function cannotReach(from: PaymentStatus, to: PaymentStatus): boolean {
  const seen = new Set<PaymentStatus>();
  const queue = [from];
  while (queue.length) {
    const s = queue.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    if (paymentLifecycle.can(s, to)) return false;
    queue.push(...paymentLifecycle.transitions[s]);
  }
  return true;
}

export interface OutcomeSettings {
  /** Pending card payments older than this are asked about (a lost callback must not lose a payment). */
  pollAfterSeconds: number;
  /** A top-up's payment window (a checkout payment has its checkout's deadline). */
  windowSeconds: number;
}

/**
 * What the card provider says about a payment, by its signed callback or when polled: each piece
 * of news moves the payment along its lifecycle (payment.lifecycle.ts) at most once.
 */
export class ProviderOutcomes {
  constructor(
    private readonly settings: OutcomeSettings,
    private readonly settlement: SettlementDeps,
    private readonly refunds: RefundService,
    private readonly provider: CardProvider,
    private readonly log: Logger,
  ) {}

  /**
   * A provider event, from the signed callback. Each event id is recorded once, in the same
   * transaction as its effect: a duplicate (or a concurrent copy) finds it and changes nothing.
   *
   * Lock order (issue 9): the payment row is locked before the event is inserted. The insert's
   * foreign key takes a KEY SHARE lock on the payment; when the row lock came second, concurrent
   * callbacks for one payment each held that share lock and waited for the others' (40P01
   * deadlocks, answered 500 after minutes). Now they queue on the payment and each finds the
   * outcome of the one before. An event that can no longer change its payment (a retry of the
   * provider's news, or a `failed` racing a `succeeded` that won) is only recorded, without the
   * row lock, so a storm of them does not queue behind each other.
   */
  async handleEvent(em: EntityManager, event: PaymentEvent): Promise<'processed' | 'duplicate' | 'ignored'> {
    return inTransaction(em, async (tx) => {
      const id = /^\d{1,19}$/.test(event.reference) ? event.reference : null;
      const to = targetOf(event);
      const seen = id ? await findPayment(tx, id) : null;
      let mayChange = seen !== null && (to === null || !cannotReach(seen.status, to));
      let payment = seen;
      if (mayChange) {
        payment = await lockPayment(tx, seen!.id, 'skip locked');
        if (!payment) {
          // Another transaction is changing this payment: most often the same news from another
          // callback. Wait for it to end with a SHARE lock (waiting callbacks do not exclude each
          // other, so they wake together instead of one by one), then look again.
          [payment] = await sqlAll<PaymentRow>(tx, 'select * from payment where id = $1 for share', [
            seen!.id,
          ]);
          if (to === null || !cannotReach(payment.status, to)) throw new RetryTransaction();
          mayChange = false;
        }
      }
      const inserted = await sqlAll(
        tx,
        'insert into provider_event (id, payment_id, type, payload) values ($1, $2, $3, $4) on conflict do nothing returning id',
        [event.id, payment?.id ?? null, event.type, JSON.stringify(event)],
      );
      if (inserted.length === 0) return 'duplicate';
      if (!payment) return 'ignored';
      if (to === null) {
        // security (issue 12): a refund event counts only for a refund of the payment it names, for
        // that refund's amount; anything else is recorded (above) and held, never applied.
        const bound =
          (!payment.provider_ref || event.paymentId === payment.provider_ref) &&
          (await this.refunds.confirm(tx, payment.id, event.refundId ?? '', event.amount));
        if (!bound) {
          this.log.warn(
            { eventId: event.id, paymentId: payment.id, refundId: event.refundId },
            'refund event does not match a refund of its payment and amount; held',
          );
          return 'ignored';
        }
        return 'processed';
      }
      // A signed event must still match the payment it names.
      if (
        payment.provider_ref &&
        (event.paymentId !== payment.provider_ref || event.amount !== Number(payment.amount))
      ) {
        this.log.warn(
          { eventId: event.id, paymentId: payment.id },
          'provider event does not match its payment; ignored',
        );
        return 'ignored';
      }
      if (mayChange) await this.applyOutcome(tx, payment.id, to, new Date(event.occurredAt));
      return 'processed';
    });
  }

  /**
   * Moves a payment to the provider's status (from a callback or a poll); a no-op when not allowed.
   * SUCCEEDED is settlement (settlement.ts); FAILED and CANCELLED only record why.
   */
  async applyOutcome(tx: EntityManager, paymentId: string, to: PaymentStatus, at: Date): Promise<void> {
    const p = await lockPayment(tx, paymentId);
    if (!p || !paymentLifecycle.can(p.status, to)) return;
    if (to === PaymentStatus.SUCCEEDED) {
      await settlePayment(this.settlement, tx, paymentId, Number.isNaN(at.getTime()) ? new Date() : at);
      return;
    }
    await sqlAll(
      tx,
      'update payment set status = $2, failure_reason = $3, updated_at = now() where id = $1',
      [paymentId, to, to === PaymentStatus.FAILED ? 'declined' : 'cancelled'],
    );
  }

  /**
   * Asks the provider about card payments still pending after `pollAfterSeconds` (a callback may
   * have been lost), and cancels at the provider those whose payment window has closed.
   */
  async reconcile(em: EntityManager, limit = 200): Promise<number> {
    const due = await sqlAll<PaymentRow & { deadline: Date | null }>(
      em,
      `select p.*, coalesce(c.payment_deadline, p.created_at + make_interval(secs => $3)) as deadline from payment p left join checkout c on c.id = p.checkout_id
        where p.status = 'PENDING' and p.method = 'CARD' and p.created_at < now() - make_interval(secs => $1)
        order by p.created_at limit $2`,
      [this.settings.pollAfterSeconds, limit, this.settings.windowSeconds],
    );
    let changed = 0;
    for (const p of due) {
      try {
        changed += (await this.reconcileOne(em, p)) ? 1 : 0;
      } catch (err) {
        this.log.warn({ err, paymentId: p.id }, 'could not reconcile payment; next poll retries');
      }
    }
    return changed;
  }

  private async reconcileOne(em: EntityManager, p: PaymentRow & { deadline: Date | null }): Promise<boolean> {
    const expired = p.deadline !== null && new Date(p.deadline).getTime() <= Date.now();
    if (!p.provider_ref) {
      if (!expired) return false;
      await inTransaction(em, (tx) => this.applyOutcome(tx, p.id, PaymentStatus.CANCELLED, new Date()));
      return true;
    }
    let remote = await this.provider.getPayment(p.provider_ref);
    if (remote.status === 'PENDING' && expired)
      remote = await this.provider
        .cancelPayment(p.provider_ref)
        .catch(() => this.provider.getPayment(p.provider_ref!));
    if (remote.status === 'PENDING') return false;
    await inTransaction(em, (tx) =>
      this.applyOutcome(tx, p.id, remote.status as PaymentStatus, new Date(remote.updatedAt)),
    );
    return true;
  }
}
