import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, UserError, type Result } from '../../shared/error-result';
import { notFound } from '../../shared/errors';
import { digest, withIdempotency } from '../../shared/idempotency';
import type { Jobs } from '../../shared/jobs';
import { ProviderUnavailableError, type CardProvider } from './provider/card-provider';
import type { PaymentEvent } from './provider/card-provider';
import { InsufficientFunds, type LedgerService } from '../ledger/ledger.service';
import type { OrderService } from '../order/order.service';
import { OrderStatus } from '../order/order.lifecycle';
import { InsufficientFundsError } from './payment.errors';
import { PaymentMethod, PaymentStatus } from './payment.lifecycle';
import { findPayment, type PaymentRow } from './payment.store';
import type { RefundService } from './refund.service';
import { GENERAL_PATH, payByBalance } from './balance-payment';
import { ProviderOutcomes } from './provider-outcomes';
import { settlePayment, type SettlementDeps } from './settlement';

export type { PaymentRow } from './payment.store';

export type PaymentOutcome = Result<PaymentRow, UserError | InsufficientFundsError>;

/** The stored payment, read with its idempotency key on a repeated request. */
const STORED_PAYMENT_SQL = 'select * from payment where id = k.result_ref::bigint';

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
 * the buyer's account. Starting a payment is here; what the provider reports is in
 * provider-outcomes.ts; settlement (the one place orders become PAID, once per payment) is in
 * settlement.ts; the lifecycle and what entering each state does is in payment.lifecycle.ts.
 */
export class PaymentService {
  private readonly settlement: SettlementDeps;
  private readonly outcomes: ProviderOutcomes;

  constructor(
    private readonly settings: PaymentSettings,
    ledger: LedgerService,
    orders: OrderService,
    refunds: RefundService,
    private readonly provider: CardProvider,
    _jobs: Jobs,
    log: Logger,
  ) {
    this.settlement = { ledger, orders, refunds, feeBps: settings.feeBps };
    this.outcomes = new ProviderOutcomes(settings, this.settlement, refunds, provider, log);
  }

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
    const insufficient = (e: unknown) => {
      if (e instanceof InsufficientFunds)
        throw new Rollback(InsufficientFundsError.of(e.balance, this.settings.currency));
      throw e;
    };
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
        }).catch(insufficient),
      );
      if (fast !== GENERAL_PATH) return fast;
    }
    const outcome = await inTransaction<PaymentOutcome, PaymentOutcome>(em, (tx) =>
      withIdempotency<PaymentOutcome, PaymentRow>(
        tx,
        {
          callerId: buyerId,
          scope: 'payment',
          key,
          requestHash,
          subject: 'a different payment',
          storedSql: STORED_PAYMENT_SQL,
        },
        {
          run: async (paymentId) => {
            const payment = await this.openCheckoutPayment(
              tx,
              paymentId,
              buyerId,
              checkoutId,
              method,
              returnUrl,
            );
            if (method !== PaymentMethod.BALANCE) return payment;
            return settlePayment(this.settlement, tx, payment.id).catch(insufficient);
          },
          replay: (_id, stored) => stored!,
        },
      ),
    );
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

  private get ledger(): LedgerService {
    return this.settlement.ledger;
  }

  /**
   * The payment of a checkout's unpaid orders, with each order's share (payment_order). The
   * checkout is locked, must be the buyer's, still have unpaid orders and an open window.
   */
  private async openCheckoutPayment(
    tx: EntityManager,
    paymentId: string,
    buyerId: string,
    checkoutId: string,
    method: PaymentMethod,
    returnUrl: string | null,
  ): Promise<PaymentRow> {
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
      [paymentId, buyerId, checkoutId, method, amount, returnUrl],
    );
    await sqlAll(
      tx,
      'insert into payment_order (payment_id, order_id, amount) select $1, o, a from unnest($2::bigint[], $3::bigint[]) as u(o, a)',
      [payment.id, payable.map((o) => o.id), payable.map((o) => Number(o.total))],
    );
    return payment;
  }

  /** accountTopUp: a card payment that credits the user's balance when it succeeds. */
  async topUp(em: EntityManager, userId: string, amount: number, key: string): Promise<PaymentOutcome> {
    const payment = await inTransaction<PaymentRow, PaymentOutcome>(em, (tx) =>
      withIdempotency<PaymentRow, PaymentRow>(
        tx,
        {
          callerId: userId,
          scope: 'top-up',
          key,
          requestHash: digest({ amount }),
          subject: 'a different top-up',
          storedSql: STORED_PAYMENT_SQL,
        },
        {
          run: async (paymentId) =>
            (
              await sqlAll<PaymentRow>(
                tx,
                `insert into payment (id, user_id, purpose, method, amount) values ($1, $2, 'TOP_UP', 'CARD', $3) returning *`,
                [paymentId, userId, amount],
              )
            )[0],
          replay: (_id, stored) => stored!,
        },
      ),
    );
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

  // ------------------------------------------------------------------ outcomes (provider-outcomes.ts)

  /** A provider event, from the signed callback (ProviderOutcomes.handleEvent). */
  handleEvent(em: EntityManager, event: PaymentEvent): Promise<'processed' | 'duplicate' | 'ignored'> {
    return this.outcomes.handleEvent(em, event);
  }

  /** Polls the provider about card payments pending too long (ProviderOutcomes.reconcile). */
  reconcile(em: EntityManager, limit = 200): Promise<number> {
    return this.outcomes.reconcile(em, limit);
  }

  /** Settles a payment in the caller's transaction (settlement.ts). */
  settleInTransaction(tx: EntityManager, paymentId: string, paidAt = new Date()): Promise<PaymentRow> {
    return settlePayment(this.settlement, tx, paymentId, paidAt);
  }

  // ------------------------------------------------------------------ reads

  find(em: EntityManager, id: string): Promise<PaymentRow | null> {
    return findPayment(em, id);
  }
}
