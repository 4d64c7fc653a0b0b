import PgBoss from 'pg-boss';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { DbTimeouts } from '../config';
import { DEFAULT_DB_TIMEOUTS, pgTimeoutSettings } from '../db/pg-settings';
import { sqlAll } from '../db/sql';
import { inTransaction } from '../db/transaction';
import { inJobSpan, withTraceContext } from './trace-context';

export type JobHandler<T> = (data: T) => Promise<void>;

/**
 * Every job here is short. A job whose worker died (a crashed process) is handed to another worker
 * after `expireInSeconds`, not after pg-boss's default 15 minutes.
 */
const JOB_DEFAULTS = { retryLimit: 10, retryBackoff: true, expireInSeconds: 120 } as const;

/**
 * Every queue has a dead-letter queue, `<name>.dead`: a job that has used up its retries is copied
 * there by pg-boss (nobody works those queues), so failed work stays visible (failedJobs, the
 * jobs_dead_letter metric) until an admin reruns it (jobRetry). Copies are kept about four weeks.
 */
export const DEAD_SUFFIX = '.dead';

/** A job in a dead-letter queue. */
export interface DeadJob {
  id: string;
  /** The queue it failed in (the dead-letter queue without its suffix). */
  queue: string;
  data: object;
  /** What the last attempt threw (pg-boss keeps the error's message and stack). */
  error: string | null;
  failedAt: Date;
}

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
        const dead = `${name}${DEAD_SUFFIX}`;
        if (!(await this.boss.getQueue(dead))) await this.boss.createQueue(dead);
        const queue = await this.boss.getQueue(name);
        if (!queue) await this.boss.createQueue(name, { name, deadLetter: dead });
        // Queues made before dead letters existed get theirs now.
        else if (!queue.deadLetter) await this.boss.updateQueue(name, { name, deadLetter: dead });
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
    opts: { em?: EntityManager; startAfter?: Date; singletonKey?: string; retryLimit?: number } = {},
  ): Promise<void> {
    await this.queue(name);
    const db = opts.em
      ? {
          executeSql: async (text: string, values: unknown[]) => ({
            rows: await sqlAll(opts.em!, text, values),
          }),
        }
      : undefined;
    await this.boss.send(name, withTraceContext(data), {
      startAfter: opts.startAfter,
      singletonKey: opts.singletonKey,
      ...JOB_DEFAULTS,
      ...(opts.retryLimit === undefined ? {} : { retryLimit: opts.retryLimit }),
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
      jobs.map((j) => ({
        name: j.name,
        data: withTraceContext(j.data),
        startAfter: j.startAfter,
        ...JOB_DEFAULTS,
      })),
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
          // The request that enqueued a job is the parent of its span (tracing on).
          await inJobSpan(
            name,
            jobs.map((j) => j.data),
            () => handler(jobs.map((j) => j.data)),
          );
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

  /** Jobs in the dead-letter queues, newest first (optionally of one queue). */
  async deadJobs(queue: string | null, limit: number): Promise<DeadJob[]> {
    const { rows } = await this.boss.getDb().executeSql(
      `select id::text, name, data, output, created_on from pgboss.job
        where name like '%' || $1 and state = 'created' and ($2::text is null or name = $2 || $1)
        order by created_on desc limit $3`,
      [DEAD_SUFFIX, queue, limit],
    );
    return (rows as { id: string; name: string; data: object; output: unknown; created_on: Date }[]).map(
      (r) => ({
        id: r.id,
        queue: r.name.slice(0, -DEAD_SUFFIX.length),
        data: r.data ?? {},
        error: errorText(r.output),
        failedAt: new Date(r.created_on),
      }),
    );
  }

  /** Dead jobs per queue (the jobs_dead_letter metric). */
  async deadCounts(): Promise<{ queue: string; count: number }[]> {
    const { rows } = await this.boss
      .getDb()
      .executeSql(
        `select name, count(*)::int as count from pgboss.job where name like '%' || $1 and state = 'created' group by name`,
        [DEAD_SUFFIX],
      );
    return (rows as { name: string; count: number }[]).map((r) => ({
      queue: r.name.slice(0, -DEAD_SUFFIX.length),
      count: r.count,
    }));
  }

  /**
   * Runs a dead job again: takes it out of its dead-letter queue and enqueues its data in its
   * queue, in one transaction of `em`'s, so a repeated call finds nothing (null) instead of
   * enqueuing it twice.
   */
  async retryDead(em: EntityManager, id: string): Promise<{ queue: string } | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    return inTransaction(em, async (tx) => {
      const [job] = await sqlAll<{ name: string; data: object }>(
        tx,
        `delete from pgboss.job where id = $1::uuid and name like '%' || $2 and state = 'created' returning name, data`,
        [id, DEAD_SUFFIX],
      );
      if (!job) return null;
      const queue = job.name.slice(0, -DEAD_SUFFIX.length);
      await this.send(queue, job.data ?? {}, { em: tx });
      return { queue };
    });
  }
}

/** pg-boss stores what a failed handler threw as { message, stack, ... } (or whatever it was). */
function errorText(output: unknown): string | null {
  if (output === null || output === undefined) return null;
  if (typeof output === 'object' && 'message' in output)
    return String((output as { message: unknown }).message);
  return JSON.stringify(output).slice(0, 2000);
}
