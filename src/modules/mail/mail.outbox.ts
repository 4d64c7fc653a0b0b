import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { sqlAll } from '../../db/sql';
import { afterCommit, inTransaction } from '../../db/transaction';
import type { Jobs } from '../../shared/jobs';
import type { Mail, Mailer } from './mailer';

export const MAIL_JOB = 'mail.deliver';

/**
 * Part of a caller's statement that writes mail rows from `select` (recipient, kind, subject, body),
 * for changes that decide in SQL whether and which mail to send (sign-up); then `queued`.
 */
export const insertMailFrom = (select: string): string =>
  `insert into mail_outbox (recipient, kind, subject, body) ${select}`;
/** Sent mail is kept (without its body) this long: the per-address cap counts it, and support can see it. */
const KEEP_SENT_DAYS = 7;

/**
 * Mail is written to `mail_outbox` in the transaction of the change that sends it, with a job to
 * deliver it: it goes out exactly when that change commits. After the commit this process tries at
 * once (the job is the backstop when it crashes or the mailer fails). Delivery holds the row's lock
 * while sending, so the immediate try and the job never send one mail twice at the same time.
 */
export class MailOutbox {
  /** A fresh EntityManager for the immediate try after a commit (set when the workers start). */
  private freshEm?: () => EntityManager;

  constructor(
    public mailer: Mailer,
    private readonly jobs: Jobs,
    private readonly from: string,
    private readonly log: Logger,
  ) {}

  /** Delivery needs the database outside any request: the app hands over a way to fork one. */
  attach(freshEm: () => EntityManager): void {
    this.freshEm = freshEm;
  }

  /**
   * Queues a mail written by the caller's own statement (sign-up writes its mail and its pending
   * row in one statement, whatever the address): `id` is the outbox row, in `tx`'s transaction;
   * null queues a job that finds nothing (callers that must cost the same with and without mail).
   */
  async queued(tx: EntityManager, id: string | null): Promise<void> {
    await this.jobs.send(MAIL_JOB, { id }, { em: tx });
    const fresh = this.freshEm;
    if (!fresh || !id) return;
    afterCommit(() => {
      this.deliver(fresh(), id).catch((err) =>
        this.log.warn({ err }, 'mail delivery failed; the job retries'),
      );
    });
  }

  /** Sends one queued mail unless it was sent already; empties its body once the mailer took it. */
  async deliver(em: EntityManager, id: string | null): Promise<void> {
    if (!id) return;
    await inTransaction(em, async (tx) => {
      const [row] = await sqlAll<{ recipient: string; kind: string; subject: string; body: string }>(
        tx,
        `select recipient, kind, subject, body from mail_outbox
          where id = $1 and sent_at is null for update skip locked`,
        [id],
      );
      if (!row) return;
      const mail: Mail = { to: row.recipient, kind: row.kind, subject: row.subject, text: row.body };
      await this.mailer.send(mail, this.from);
      await sqlAll(tx, `update mail_outbox set sent_at = now(), body = '' where id = $1`, [id]);
    });
  }

  /** Drops sent mail after a week, and unsent mail whose job has long given up. */
  async purge(em: EntityManager): Promise<void> {
    await sqlAll(em, `delete from mail_outbox where created_at < now() - make_interval(days => $1)`, [
      KEEP_SENT_DAYS,
    ]);
  }
}
