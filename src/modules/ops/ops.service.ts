import type { EntityManager } from '@mikro-orm/postgresql';
import { checkPageSize } from '../../shared/pagination';
import type { DeadJob, Jobs } from '../../shared/jobs';

/**
 * Work that failed or waits: dead jobs for admins, and the backlogs other modules report
 * (`registerBacklog`: the outbound webhooks report their undelivered deliveries there).
 */
export class OperationsService {
  readonly backlogs = new Map<string, () => Promise<number>>();

  constructor(
    private readonly jobs: Jobs,
    private readonly maxPageSize: number,
  ) {}

  /** A module reports how much of its work waits (the work_backlog{kind} metric and its alert). */
  registerBacklog(kind: string, read: () => Promise<number>): void {
    this.backlogs.set(kind, read);
  }

  failedJobs(queue: string | null, first: number): Promise<DeadJob[]> {
    checkPageSize(first, this.maxPageSize);
    return this.jobs.deadJobs(queue, first);
  }

  retryJob(em: EntityManager, id: string): Promise<{ queue: string } | null> {
    return this.jobs.retryDead(em, id);
  }
}
