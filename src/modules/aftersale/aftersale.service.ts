import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Principal } from '../../shared/auth';
import type { UserError } from '../../shared/error-result';
import { isId } from '../../shared/ids';
import type { Jobs } from '../../shared/jobs';
import { canSee } from '../order/order.service';
import type { RefundService } from '../payment/refund.service';
import type { AfterSaleDeps } from './aftersale.deps';
import { requestAfterSale, type AfterSaleRequest } from './aftersale.request';
import {
  completeDeliveredExchanges,
  completeExchangeInTransaction,
  receiveReturn,
  returnShip,
} from './aftersale.returns';
import { approveOverdue, autoApprove, reviewAfterSale, type ReviewInput } from './aftersale.review';
import { findAfterSale, partiesOf, type AfterSaleRow } from './aftersale.store';

export { REVIEW_JOB } from './aftersale.request';

/**
 * After-sale: refunds, returns and exchanges of delivered (or paid) orders. The rules and the
 * lifecycle are in aftersale.state.ts; each use case lives in its own file.
 */
export class AfterSaleService {
  private readonly deps: AfterSaleDeps;

  constructor(
    settings: { reviewSeconds: number; windowDays: number },
    refunds: RefundService,
    jobs: Jobs,
    log: Logger,
  ) {
    this.deps = { settings, refunds, jobs, log };
  }

  /** Its buyer, its merchant and admins see an after-sale; for anyone else it does not exist. */
  async find(em: EntityManager, principal: Principal | null, id: string): Promise<AfterSaleRow | null> {
    if (!principal || !isId(id)) return null;
    const row = await findAfterSale(em, id);
    return row && canSee(principal, partiesOf(row)) ? row : null;
  }

  request(
    em: EntityManager,
    principal: Principal,
    input: AfterSaleRequest,
  ): Promise<AfterSaleRow | UserError> {
    return requestAfterSale(this.deps, em, principal, input);
  }

  review(
    em: EntityManager,
    principal: Principal,
    id: string,
    input: ReviewInput,
  ): Promise<AfterSaleRow | UserError> {
    return reviewAfterSale(this.deps, em, principal, id, input);
  }

  returnShip(
    em: EntityManager,
    principal: Principal,
    id: string,
    carrier: string,
    trackingNumber: string,
  ): Promise<AfterSaleRow | UserError> {
    return returnShip(em, principal, id, carrier, trackingNumber);
  }

  receive(
    em: EntityManager,
    principal: Principal,
    id: string,
    exchangeCarrier: string | null,
    exchangeTrackingNumber: string | null,
  ): Promise<AfterSaleRow | UserError> {
    return receiveReturn(this.deps, em, principal, id, exchangeCarrier, exchangeTrackingNumber);
  }

  /** The review-deadline job. */
  autoApprove(em: EntityManager, id: string): Promise<boolean> {
    return autoApprove(this.deps, em, id);
  }

  /** The cron backstop: overdue reviews are approved, delivered exchanges completed. */
  async sweep(em: EntityManager): Promise<{ approved: number; completed: number }> {
    return {
      approved: await approveOverdue(this.deps, em),
      completed: await completeDeliveredExchanges(this.deps, em),
    };
  }

  /** For the logistics webhook: a shipment was reported DELIVERED (completes an exchange it carried). */
  onShipmentDelivered(tx: EntityManager, shipmentId: string): Promise<boolean> {
    return completeExchangeInTransaction(tx, shipmentId);
  }
}
