import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { SignupConfig } from '../../config';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { ErrorCode, UserError } from '../../shared/error-result';
import { insertMailFrom, type MailOutbox } from '../mail/mail.outbox';
import type { IdentityService } from './identity.service';
import { hashPassword } from './password';
import { CONFIRM_KIND, EXISTING_KIND, renderSignupMails } from './signup.mails';
import { User } from './user.entity';

/** What signUp answers in `email` mode, for a new and a taken address alike. */
export interface SignUpPendingResult {
  pending: true;
  email: string;
}

const UNKNOWN_CODE = 'This confirmation code is not valid';
/** A code that names no sign-up at all: a guess (counted like a failed sign-in), not a stale mail. */
export const isGuess = (r: UserError): boolean =>
  r.errorCode === ErrorCode.SIGNUP_TOKEN_INVALID && r.message === UNKNOWN_CODE;

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
const normalizeEmail = (email: string) => email.trim().toLowerCase();

/**
 * Sign-up with verification by mail (docs/accounts.md). In `email` mode signUp never says whether
 * an address has an account: it answers the same, after the same work (one password hash, one
 * statement writing a pending row and a mail, one job), for a new address (the mail carries a
 * single-use code) and for a taken one (the mail tells the owner someone tried). The account is
 * created by `confirm` with the mailed code. In `off` mode signUp signs in at once, as before.
 */
export class SignUpService {
  constructor(
    private readonly identity: IdentityService,
    private readonly mail: MailOutbox,
    private readonly config: SignupConfig,
  ) {}

  get verifiesEmail(): boolean {
    return this.config.verification === 'email';
  }

  async signUp(
    em: EntityManager,
    email: string,
    password: string,
    name: string,
  ): Promise<{ user: User; token: string } | SignUpPendingResult | UserError> {
    if (!this.verifiesEmail) return this.identity.signUp(em, email, password, name);
    const weak = this.identity.passwordProblem(password, email);
    if (weak) return UserError.of(ErrorCode.PASSWORD_TOO_WEAK, weak, 'password');
    const address = normalizeEmail(email);
    // Everything below runs whatever the address: the hash, the token, both mails, one statement.
    const passwordHash = await hashPassword(password);
    const token = randomBytes(32).toString('base64url');
    const mails = renderSignupMails(token, this.config);
    await inTransaction(em, async (tx) => {
      // Sign-ups for one address take turns, so the cap on its mail is counted exactly.
      await sqlAll(tx, `select pg_advisory_xact_lock(hashtextextended('signup:' || $1, 0))`, [address]);
      const [row] = await sqlAll<{ mail_id: string | null }>(
        tx,
        `with taken as (select exists (select 1 from app_user where lower(email) = $1) as yes),
              room as (select count(*) < $6 as yes from mail_outbox
                        where recipient = $1 and created_at > now() - interval '1 hour'),
              pending as (
                insert into signup_pending (email, name, password_hash, token_hash, expires_at)
                select $1, $2, case when taken.yes then null else $3 end, $4, now() + make_interval(secs => $5)
                  from taken, room where room.yes
                returning id),
              mail as (
                ${insertMailFrom(`select $1, case when taken.yes then $9 else $7 end,
                       case when taken.yes then $10 else $8 end, case when taken.yes then $11 else $12 end
                  from taken, room where room.yes`)}
                returning id)
         select (select id from mail)::text as mail_id`,
        [
          address,
          name.trim(),
          passwordHash,
          sha256(token),
          this.config.tokenTtlSeconds,
          this.config.mailsPerAddressPerHour,
          CONFIRM_KIND,
          mails.confirm.subject,
          EXISTING_KIND,
          mails.existing.subject,
          mails.existing.text,
          mails.confirm.text,
        ],
      );
      // Over the address's mail cap nothing is written, for either kind: earlier codes keep working.
      // The job is queued all the same (it finds nothing to send), so even the cap is not told apart.
      await this.mail.queued(tx, row.mail_id);
    });
    return { pending: true, email: address };
  }

  /**
   * Creates the account of a pending sign-up from its mailed code, at most once: the pending row is
   * locked, and the account insert gives way to one created meanwhile (EMAIL_TAKEN, nothing written).
   */
  async confirm(em: EntityManager, token: string): Promise<{ user: User; token: string } | UserError> {
    const invalid = (message: string) => UserError.of(ErrorCode.SIGNUP_TOKEN_INVALID, message, 'token');
    const result = await inTransaction<string, UserError>(em, async (tx) => {
      const [p] = await sqlAll<{
        id: string;
        email: string;
        name: string;
        password_hash: string | null;
        used: boolean;
        expired: boolean;
        superseded: boolean;
      }>(
        tx,
        `select p.id, p.email, p.name, p.password_hash, p.used_at is not null as used,
                p.expires_at <= now() as expired,
                exists (select 1 from signup_pending n where n.email = p.email and n.id > p.id) as superseded
           from signup_pending p where token_hash = $1 for update`,
        [sha256(token)],
      );
      if (!p) throw new Rollback(invalid(UNKNOWN_CODE));
      if (p.used) throw new Rollback(invalid('This confirmation code was used already; sign in instead'));
      // A sign-up for an address that had an account: its code was never mailed.
      if (p.password_hash === null) throw new Rollback(invalid(UNKNOWN_CODE));
      if (p.superseded)
        throw new Rollback(
          invalid('A newer sign-up for this address replaced this code; use the code of the newest mail'),
        );
      if (p.expired)
        throw new Rollback(
          UserError.of(
            ErrorCode.SIGNUP_TOKEN_EXPIRED,
            'This confirmation code has expired; sign up again',
            'token',
          ),
        );
      const [user] = await sqlAll<{ id: string }>(
        tx,
        `insert into app_user (email, password_hash, name, roles) values ($1, $2, $3, '{CUSTOMER}')
         on conflict do nothing returning id::text`,
        [p.email, p.password_hash, p.name],
      );
      if (!user)
        throw new Rollback(
          UserError.of(
            ErrorCode.EMAIL_TAKEN,
            'An account with this email was created meanwhile; sign in instead',
            'token',
          ),
        );
      // The copy of the hash is not needed any more.
      await sqlAll(tx, `update signup_pending set used_at = now(), password_hash = null where id = $1`, [
        p.id,
      ]);
      return user.id;
    });
    if (result instanceof UserError) return result;
    return this.identity.signedIn(em, result);
  }

  /** Drops pending sign-ups a day after they expired or were used. */
  async purge(em: EntityManager): Promise<void> {
    await sqlAll(
      em,
      `delete from signup_pending where expires_at < now() - interval '1 day'
          or used_at < now() - interval '1 day'`,
    );
  }
}
