import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, RetryTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, UserError } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { claimKey, digest } from '../../shared/idempotency';
import type { Jobs } from '../../shared/jobs';
import { ProviderUnavailableError, type CardProvider } from './provider/card-provider';
import type { PaymentEvent } from './provider/card-provider';
import { convertReservations, takeStockOnPayment } from '../inventory/inventory.store';
import { InsufficientFunds, partsWithFee, type LedgerService } from '../ledger/ledger.service';
import { OrderStateError } from '../order/order.errors';
import type { OrderService } from '../order/order.service';
import { OrderStatus } from '../order/order.state';
import { InsufficientFundsError } from './payment.errors';
import { paymentLifecycle, PaymentMethod, PaymentStatus } from './payment.state';
import type { RefundService } from './refund.service';
import { GENERAL_PATH, payByBalance } from './balance-payment';

export interface PaymentRow {
  id: string;
  user_id: string;
  checkout_id: string | null;
  purpose: 'CHECKOUT' | 'TOP_UP';
  method: PaymentMethod;
  status: PaymentStatus;
  amount: string;
  refunded: string;
  provider_ref: string | null;
  redirect_url: string | null;
  /** Where the provider sends the shopper after paying; null: this server's /payments/return. */
  return_url: string | null;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
  settled_at: Date | null;
}

export type PaymentOutcome = PaymentRow | UserError | InsufficientFundsError;

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

export interface PaymentSettings {
  currency: string;
  /** Platform fee in basis points of each order's total. */
  feeBps: number;
  /** This server's public base URL: the provider's callbacks and the shopper's return go there. */
  publicUrl: string;
  /** Pending card payments older than this are asked about (a lost callback must not lose a payment). */
  pollAfterSeconds: number;
  /** A top-up's payment window (a checkout payment has its checkout's deadline). */
  windowSeconds: number;
}

/**
 * Payments: card through the provider (hosted page, signed callbacks, polling), or balance from
 * the buyer's account. Whatever path reports a payment's outcome (callback, poll, repeat of
 * either), `settle` is the one place orders become PAID, and it runs once per payment.
 */
export class PaymentService {
  constructor(
    private readonly settings: PaymentSettings,
    private readonly ledger: LedgerService,
    private readonly orders: OrderService,
    private readonly refunds: RefundService,
    private readonly provider: CardProvider,
    private readonly jobs: Jobs,
    private readonly log: Logger,
  ) {}

  // ------------------------------------------------------------------ starting a payment

  /** paymentStart: a PENDING card payment with its provider page, or a settled balance payment. */
  async start(
    em: EntityManager,
    buyerId: string,
    checkoutId: string,
    method: PaymentMethod,
    key: string,
    returnUrl: string | null = null,
  ): Promise<PaymentOutcome> {
    // Without a returnUrl the request digests as it always did (keys stored before it existed).
    const requestHash = digest(returnUrl ? { checkoutId, method, returnUrl } : { checkoutId, method });
    if (method === PaymentMethod.BALANCE) {
      // The common case in few statements (balance-payment.ts); anything else takes the path below.
      const fast = await inTransaction<PaymentOutcome, PaymentOutcome | typeof GENERAL_PATH>(em, (tx) =>
        payByBalance(tx, this.ledger, {
          buyerId,
          checkoutId,
          key,
          requestHash,
          returnUrl,
          feeBps: this.settings.feeBps,
        }).catch((e) => {
          if (e instanceof InsufficientFunds)
            throw new Rollback(InsufficientFundsError.of(e.balance, this.settings.currency));
          throw e;
        }),
      );
      if (fast !== GENERAL_PATH) return fast;
    }
    const outcome = await inTransaction<PaymentOutcome, PaymentOutcome>(em, async (tx) => {
      const claim = await claimKey(tx, buyerId, 'payment', key, requestHash, 'next_order_id($1)::text');
      if (!claim.claimed) {
        if (!claim.sameRequest)
          throw new Rollback(
            UserError.of(
              ErrorCode.IDEMPOTENCY_KEY_REUSED,
              'This idempotency key was used for a different payment',
              'idempotencyKey',
            ),
          );
        return (await this.find(tx, claim.resultRef))!;
      }
      const [checkout] = /^\d{1,19}$/.test(checkoutId)
        ? await sqlAll<{ buyer_id: string; payment_deadline: Date }>(
            tx,
            'select buyer_id, payment_deadline from checkout where id = $1 for update',
            [checkoutId],
          )
        : [];
      if (!checkout || String(checkout.buyer_id) !== buyerId)
        throw notFound('Checkout', checkoutId.slice(0, 40));
      const open = await sqlAll<{ id: string; total: string; status: OrderStatus }>(
        tx,
        'select id, total, status from shop_order where checkout_id = $1 order by id',
        [checkoutId],
      );
      const payable = open.filter((o) => o.status === OrderStatus.PENDING_PAYMENT);
      if (payable.length === 0) {
        throw new Rollback(
          open.some((o) => o.status === OrderStatus.PAID)
            ? UserError.of(ErrorCode.ORDER_STATE_INVALID, 'This checkout is paid', 'checkoutId')
            : UserError.of(
                ErrorCode.PAYMENT_WINDOW_EXPIRED,
                'The orders of this checkout were cancelled',
                'checkoutId',
              ),
        );
      }
      if (checkout.payment_deadline.getTime() <= Date.now()) {
        throw new Rollback(
          UserError.of(
            ErrorCode.PAYMENT_WINDOW_EXPIRED,
            'The payment window of this checkout has closed',
            'checkoutId',
          ),
        );
      }
      const amount = payable.reduce((s, o) => s + Number(o.total), 0);
      const [payment] = await sqlAll<PaymentRow>(
        tx,
        `insert into payment (id, user_id, checkout_id, purpose, method, amount, return_url)
         values ($1, $2, $3, 'CHECKOUT', $4, $5, $6) returning *`,
        [claim.resultRef, buyerId, checkoutId, method, amount, returnUrl],
      );
      await sqlAll(
        tx,
        'insert into payment_order (payment_id, order_id, amount) select $1, o, a from unnest($2::bigint[], $3::bigint[]) as u(o, a)',
        [payment.id, payable.map((o) => o.id), payable.map((o) => Number(o.total))],
      );
      if (method === PaymentMethod.BALANCE) {
        try {
          return await this.settleInTransaction(tx, payment.id);
        } catch (e) {
          if (e instanceof InsufficientFunds)
            throw new Rollback(InsufficientFundsError.of(e.balance, this.settings.currency));
          throw e;
        }
      }
      return payment;
    });
    if (
      'status' in outcome &&
      outcome.method === PaymentMethod.CARD &&
      outcome.status === PaymentStatus.PENDING &&
      !outcome.provider_ref
    ) {
      return this.openAtProvider(em, outcome);
    }
    return outcome;
  }

  /** accountTopUp: a card payment that credits the user's balance when it succeeds. */
  async topUp(em: EntityManager, userId: string, amount: number, key: string): Promise<PaymentOutcome> {
    const payment = await inTransaction<PaymentRow, PaymentOutcome>(em, async (tx) => {
      const claim = await claimKey(tx, userId, 'top-up', key, digest({ amount }), 'next_order_id($1)::text');
      if (!claim.claimed) {
        if (!claim.sameRequest)
          throw new Rollback(
            UserError.of(
              ErrorCode.IDEMPOTENCY_KEY_REUSED,
              'This idempotency key was used for a different top-up',
              'idempotencyKey',
            ),
          );
        return (await this.find(tx, claim.resultRef))!;
      }
      const [row] = await sqlAll<PaymentRow>(
        tx,
        `insert into payment (id, user_id, purpose, method, amount) values ($1, $2, 'TOP_UP', 'CARD', $3) returning *`,
        [claim.resultRef, userId, amount],
      );
      return row;
    });
    if ('status' in payment && payment.status === PaymentStatus.PENDING && !payment.provider_ref)
      return this.openAtProvider(em, payment);
    return payment;
  }

  /**
   * Creates the payment at the provider, after the payment row committed, with the payment id as
   * the provider's idempotency key: a retry (of the request, or of paymentStart with the same
   * key) never creates a second provider payment.
   */
  private async openAtProvider(em: EntityManager, payment: PaymentRow): Promise<PaymentOutcome> {
    try {
      const created = await this.provider.createPayment(
        {
          amount: Number(payment.amount),
          currency: this.settings.currency,
          reference: String(payment.id),
          returnUrl: payment.return_url ?? `${this.settings.publicUrl}/payments/return`,
          callbackUrl: `${this.settings.publicUrl}/webhooks/payments`,
        },
        { idempotencyKey: `payment-${payment.id}` },
      );
      const [row] = await sqlAll<PaymentRow>(
        em.fork() as EntityManager,
        'update payment set provider_ref = $2, redirect_url = $3, updated_at = now() where id = $1 returning *',
        [payment.id, created.id, created.redirectUrl],
      );
      return row;
    } catch (e) {
      if (e instanceof ProviderUnavailableError) {
        return UserError.of(
          ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE,
          'The card payment provider is not answering; try again with the same idempotency key',
        );
      }
      throw e;
    }
  }

  // ------------------------------------------------------------------ outcomes

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
      const seen = id ? await this.find(tx, id) : null;
      let mayChange = seen !== null && (to === null || !cannotReach(seen.status, to));
      let payment = seen;
      if (mayChange) {
        payment = await this.lockPayment(tx, seen!.id, 'skip locked');
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
      if (mayChange) await this.apply(tx, payment.id, to, new Date(event.occurredAt));
      return 'processed';
    });
  }

  /** Moves a payment to the provider's status (from a callback or a poll); a no-op when not allowed. */
  private async apply(tx: EntityManager, paymentId: string, to: PaymentStatus, at: Date): Promise<void> {
    const p = await this.lockPayment(tx, paymentId);
    if (!p || !paymentLifecycle.can(p.status, to)) return;
    if (to === PaymentStatus.SUCCEEDED) {
      await this.settleInTransaction(tx, paymentId, Number.isNaN(at.getTime()) ? new Date() : at);
      return;
    }
    await sqlAll(
      tx,
      'update payment set status = $2, failure_reason = $3, updated_at = now() where id = $1',
      [paymentId, to, to === PaymentStatus.FAILED ? 'declined' : 'cancelled'],
    );
  }

  /**
   * A payment succeeded: in one transaction, its orders that can still be paid become PAID, their
   * reserved stock becomes sold (DEDUCT_ON_PAYMENT stock is taken now), the ledger records the
   * sale, and the share of orders that cannot be paid any more (cancelled, expired, stock gone) is
   * refunded. Runs once per payment: the payment row is locked and must not be settled already.
   * `paidAt` is when the provider took the money: paid after the window closed, the orders are
   * cancelled and the money returned, even if the expiry job has not run yet.
   */
  async settleInTransaction(tx: EntityManager, paymentId: string, paidAt = new Date()): Promise<PaymentRow> {
    const payment = (await this.lockPayment(tx, paymentId))!;
    if (!paymentLifecycle.can(payment.status, PaymentStatus.SUCCEEDED)) return payment;
    if (payment.purpose === 'TOP_UP') {
      await this.ledger.topUp(tx, String(payment.user_id), Number(payment.amount), `payment:${payment.id}`);
      const [row] = await sqlAll<PaymentRow>(
        tx,
        `update payment set status = 'SUCCEEDED', settled_at = now(), updated_at = now() where id = $1 returning *`,
        [paymentId],
      );
      return row;
    }
    // Same lock order as cancellation: checkout, then its orders.
    const [checkout] = await sqlAll<{ payment_deadline: Date }>(
      tx,
      'select payment_deadline from checkout where id = $1 for update',
      [payment.checkout_id],
    );
    const late = paidAt.getTime() > new Date(checkout.payment_deadline).getTime();
    const covered = await sqlAll<{
      order_id: string;
      amount: string;
      merchant_id: string;
      status: OrderStatus;
    }>(
      tx,
      'select po.order_id, po.amount, o.merchant_id, o.status from payment_order po join shop_order o on o.id = po.order_id where po.payment_id = $1 order by po.order_id',
      [paymentId],
    );
    const paid: typeof covered = [];
    const unpaid: typeof covered = [];
    for (const o of covered) {
      // An order that cannot be paid any more (cancelled, paid by another payment) takes no stock.
      if (o.status !== OrderStatus.PENDING_PAYMENT) {
        unpaid.push(o);
        continue;
      }
      if (late) {
        await this.orders.cancelInTransaction(tx, o.order_id, 'payment window expired');
        unpaid.push(o);
        continue;
      }
      if (!(await takeStockOnPayment(tx, o.order_id))) {
        await this.orders.cancelInTransaction(tx, o.order_id, 'stock ran out before payment');
        unpaid.push(o);
        continue;
      }
      const moved = await this.orders.transition(tx, o.order_id, OrderStatus.PAID);
      (moved instanceof OrderStateError ? unpaid : paid).push(o);
    }
    if (paid.length)
      await convertReservations(
        tx,
        paid.map((o) => o.order_id),
      );
    await sqlAll(
      tx,
      `update payment set status = 'SUCCEEDED', settled_at = now(), updated_at = now() where id = $1`,
      [paymentId],
    );
    if (paid.length) {
      const input = {
        buyerId: String(payment.user_id),
        reference: `payment:${payment.id}`,
        parts: partsWithFee(
          paid.map((o) => ({
            merchantId: String(o.merchant_id),
            amount: Number(o.amount),
            reference: `order:${o.order_id}`,
          })),
          this.settings.feeBps,
        ),
      };
      if (payment.method === PaymentMethod.BALANCE) await this.ledger.purchaseWithBalance(tx, input);
      else await this.ledger.purchaseWithCard(tx, input);
    }
    // No money is kept for an order that cannot be paid: its share goes back at once.
    for (const o of unpaid) {
      if (Number(o.amount) > 0) await this.refunds.createUnpaid(tx, payment, o.order_id, Number(o.amount));
    }
    const [row] = await sqlAll<PaymentRow>(tx, 'select * from payment where id = $1', [paymentId]);
    return row;
  }

  // ------------------------------------------------------------------ reconciliation

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
      await inTransaction(em, (tx) => this.apply(tx, p.id, PaymentStatus.CANCELLED, new Date()));
      return true;
    }
    let remote = await this.provider.getPayment(p.provider_ref);
    if (remote.status === 'PENDING' && expired)
      remote = await this.provider
        .cancelPayment(p.provider_ref)
        .catch(() => this.provider.getPayment(p.provider_ref!));
    if (remote.status === 'PENDING') return false;
    await inTransaction(em, (tx) =>
      this.apply(tx, p.id, remote.status as PaymentStatus, new Date(remote.updatedAt)),
    );
    return true;
  }

  /**
   * Locks a payment row for a change of its status or amounts. FOR NO KEY UPDATE (the lock an
   * UPDATE of non-key columns takes anyway), not FOR UPDATE: it does not conflict with the KEY
   * SHARE locks that inserting its children (provider events, refunds) takes, so those inserts
   * never wait on a settling payment, and a lock taken after such an insert cannot deadlock on them.
   */
  private async lockPayment(
    tx: EntityManager,
    id: string,
    wait: 'skip locked' | '' = '',
  ): Promise<PaymentRow | null> {
    const [row] = await sqlAll<PaymentRow>(
      tx,
      `select * from payment where id = $1 for no key update ${wait}`,
      [id],
    );
    return row ?? null;
  }

  // ------------------------------------------------------------------ reads

  async find(em: EntityManager, id: string): Promise<PaymentRow | null> {
    if (!/^\d{1,19}$/.test(id)) return null;
    const [row] = await sqlAll<PaymentRow>(em, 'select * from payment where id = $1', [id]);
    return row ?? null;
  }
}
