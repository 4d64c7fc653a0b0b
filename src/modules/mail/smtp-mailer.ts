import { createTransport, type Transporter } from 'nodemailer';
import type { Mail, Mailer } from './mailer';

/**
 * Mail through an SMTP server (SMTP_URL: `smtp://user:pass@host:587` with STARTTLS when offered,
 * `smtps://…:465` for TLS from the start), with nodemailer. Timeouts are short: the outbox holds
 * the mail's row lock while sending, and a mail that did not go out is retried by its job.
 */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(url: string, timeoutMs = 10_000) {
    this.transport = createTransport({
      url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
  }

  async send(mail: Mail, from: string): Promise<void> {
    await this.transport.sendMail({
      from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      headers: { 'X-Mail-Kind': mail.kind },
    });
  }

  close(): void {
    this.transport.close();
  }
}
