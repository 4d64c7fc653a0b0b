import type { Logger } from 'pino';

/** One mail, as the outbox holds it. `kind` names its template (logs and metrics, never the text). */
export interface Mail {
  to: string;
  kind: string;
  subject: string;
  text: string;
}

/**
 * Where mail leaves the server. The outbox calls it from its delivery job (at least once: a mail
 * sent just before a crash may be sent again). An implementation throws when the mail was not
 * accepted; the job then retries.
 */
export interface Mailer {
  send(mail: Mail, from: string): Promise<void>;
}

/** `ada@example.com` → `a***@example.com`: enough to follow a mail in the logs, not to harvest addresses. */
export const maskAddress = (to: string): string => {
  const at = to.lastIndexOf('@');
  return at <= 0 ? '***' : `${to[0]}***${to.slice(at)}`;
};

/**
 * The default mailer: writes each mail to the log. Outside production the whole mail is logged, so
 * a developer can open a confirmation link from the console; in production only its kind, subject
 * and the masked recipient (a confirmation link in the log would let anyone who reads logs create
 * an account for an address they do not own).
 */
export class LogMailer implements Mailer {
  constructor(
    private readonly log: Logger,
    private readonly showText: boolean,
  ) {}

  async send(mail: Mail, from: string): Promise<void> {
    if (this.showText) this.log.info({ mail: { from, ...mail } }, `mail to ${mail.to}: ${mail.subject}`);
    else
      this.log.info(
        { mail: { from, to: maskAddress(mail.to), kind: mail.kind, subject: mail.subject } },
        'mail (log mailer: text not logged in production)',
      );
  }
}
