import PgBoss from 'pg-boss';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { DbTimeouts } from '../config';
import { DEFAULT_DB_TIMEOUTS, pgTimeoutSettings } from '../db/pg-settings';
import { sqlAll } from '../db/sql';

export type JobHandler<T> = (data: T) => Promise<void>;

/**
 * Every job here is short. A job whose worker died (a crashed process) is handed to another worker
 * after `expireInSeconds`, not after pg-boss's default 15 minutes.
 */
const JOB_DEFAULTS = { retryLimit: 10, retryBackoff: true, expireInSeconds: 120 } as const;

/**
 * Background jobs in PostgreSQL (pg-boss): every server process works every queue with
 * SKIP LOCKED, so no node is special and a crashed node's jobs are picked up by the others.
 */
export class Jobs {
  private readonly boss: PgBoss;
  private readonly queues = new Set<string>();

  constructor(
    connectionString: string,
    private readonly log: Logger,
    private readonly pollingSeconds = 1,
    timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS,
  ) {
    this.boss = new PgBoss({
      connectionString,
      max: 3,
      schema: 'pgboss',
      application_name: 'commerce-jobs',
      // The server's timeouts (docs/faults.md), but no lock_timeout: pg-boss's schema install and
      // maintenance wait for advisory locks other nodes hold briefly (the statement timeout bounds them).
      ...pgTimeoutSettings({ ...timeouts, lockMs: 0 }),
    } as PgBoss.ConstructorOptions);
    this.boss.on('error', (err) => log.error({ err }, 'job system error'));
  }

  async start(): Promise<void> {
    await this.boss.start();
  }

  /**
   * Lets running jobs finish for a few seconds. Every job is idempotent and a job cut off here runs
   * again elsewhere, so a shutdown never waits long (also not when PostgreSQL is already going down).
   */
  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: 4_000, wait: true });
  }

  /**
   * Creates a queue once. Processes starting together may race to create the same queue (its
   * table partition): the loser's deadlock or duplicate error is retried, then finds it made.
   */
  private async queue(name: string): Promise<void> {
    if (this.queues.has(name)) return;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!(await this.boss.getQueue(name))) await this.boss.createQueue(name);
        break;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 5 || !code || !['40P01', '23505', '42P07', '42710'].includes(code)) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
      }
    }
    this.queues.add(name);
  }

  /**
   * Enqueues a job. With `em`, the job is written in that EntityManager's transaction, so it
   * exists exactly when the change that asked for it commits.
   */
  async send(
    name: string,
    data: object,
    opts: { em?: EntityManager; startAfter?: Date; singletonKey?: string } = {},
  ): Promise<void> {
    await this.queue(name);
    const db = opts.em
      ? {
          executeSql: async (text: string, values: unknown[]) => ({
            rows: await sqlAll(opts.em!, text, values),
          }),
        }
      : undefined;
    await this.boss.send(name, data, {
      startAfter: opts.startAfter,
      singletonKey: opts.singletonKey,
      ...JOB_DEFAULTS,
      db,
    });
  }

  /** Several jobs in one statement (optionally in `em`'s transaction, as with `send`). */
  async sendMany(
    jobs: { name: string; data: object; startAfter?: Date }[],
    opts: { em?: EntityManager } = {},
  ): Promise<void> {
    for (const j of jobs) await this.queue(j.name);
    const db = opts.em
      ? {
          executeSql: async (text: string, values: unknown[]) => ({
            rows: await sqlAll(opts.em!, text, values),
          }),
        }
      : undefined;
    await this.boss.insert(
      jobs.map((j) => ({ name: j.name, data: j.data, startAfter: j.startAfter, ...JOB_DEFAULTS })),
      db ? { db } : {},
    );
  }

  async work<T extends object>(name: string, handler: JobHandler<T>): Promise<void> {
    await this.workBatch<T>(name, async (batch) => {
      for (const data of batch) await handler(data);
    });
  }

  /**
   * Works jobs up to 50 at a time, so a burst (one snapshot job per checkout) costs one statement
   * per batch. Handlers are idempotent: when a batch fails, all of it is retried.
   */
  async workBatch<T extends object>(name: string, handler: (batch: T[]) => Promise<void>): Promise<void> {
    await this.queue(name);
    await this.boss.work<T>(
      name,
      { pollingIntervalSeconds: this.pollingSeconds, batchSize: 50 },
      async (jobs) => {
        try {
          await handler(jobs.map((j) => j.data));
        } catch (err) {
          this.log.error({ err, job: name }, 'job failed; it will be retried');
          throw err;
        }
      },
    );
  }

  /** A recurring job (cron syntax, minute resolution); one instance runs per tick across all nodes. */
  async every(name: string, cron: string, handler: JobHandler<object>): Promise<void> {
    await this.work(name, handler);
    await this.boss.schedule(name, cron, {}, { singletonKey: name });
  }
}
