import type { Logger } from 'pino';
import type { Jobs } from '../../shared/jobs';
import type { RefundService } from '../payment/refund.service';

/** What the after-sale use cases need from the rest of the application. */
export interface AfterSaleDeps {
  refunds: RefundService;
  jobs: Jobs;
  log: Logger;
  settings: { reviewSeconds: number; windowDays: number };
}
