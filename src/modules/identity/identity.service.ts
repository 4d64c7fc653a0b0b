import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from '../../shared/errors';
import { ErrorCode, UserError } from '../../shared/error-result';
import type { Principal } from '../../shared/auth';
import { Merchant } from '../catalog/merchant.entity';
import { sqlAll } from '../../db/sql';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './password';
import { passwordProblem } from './password-policy';
import type { TokenService, UserTokenState } from './token';
import { Role, User } from './user.entity';

export const principalOf = (u: User): Principal => ({
  userId: String(u.id),
  roles: u.roles,
  merchantId: u.merchantId ? String(u.merchantId) : null,
});

const normalizeEmail = (email: string) => email.trim().toLowerCase();

export class IdentityService {
  constructor(
    readonly tokens: TokenService,
    private readonly passwordMinLength = 10,
  ) {}

  /** A token for the user at its current token version. */
  private tokenFor(user: User): Promise<string> {
    return this.tokens.sign(principalOf(user), user.tokenVersion ?? 0);
  }

  /** Why a new password is refused (too short, too common, the email itself), or null. */
  passwordProblem(password: string, email: string): string | null {
    return passwordProblem(password, email, this.passwordMinLength);
  }

  async signUp(
    em: EntityManager,
    email: string,
    password: string,
    name: string,
  ): Promise<{ user: User; token: string } | UserError> {
    const weak = this.passwordProblem(password, email);
    if (weak) return UserError.of(ErrorCode.PASSWORD_TOO_WEAK, weak, 'password');
    const user = em.create(User, {
      email: normalizeEmail(email),
      passwordHash: await hashPassword(password),
      name: name.trim(),
      roles: [Role.CUSTOMER],
    });
    try {
      await em.flush();
    } catch (e) {
      if (e instanceof UniqueConstraintViolationException) {
        return UserError.of(ErrorCode.EMAIL_TAKEN, 'An account with this email exists', 'email');
      }
      throw e;
    }
    return { user, token: await this.tokenFor(user) };
  }

  /** The user, signed in: a token at its current version (sign-up confirmation). */
  async signedIn(em: EntityManager, userId: string): Promise<{ user: User; token: string }> {
    const user = await em.findOneOrFail(User, { id: userId });
    return { user, token: await this.tokenFor(user) };
  }

  /** Unknown email and wrong password answer alike, in about the same time. */
  async signIn(
    em: EntityManager,
    email: string,
    password: string,
  ): Promise<{ user: User; token: string } | UserError> {
    const user = await em.findOne(User, { email: normalizeEmail(email) }, { populate: ['passwordHash'] });
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
    if (!user || !ok) return UserError.of(ErrorCode.INVALID_CREDENTIALS, 'Email or password is wrong');
    // A hash made with weaker parameters (or the scrypt of earlier versions) is replaced now that
    // the password is known.
    if (needsRehash(user.passwordHash)) {
      user.passwordHash = await hashPassword(password);
      await em.flush();
    }
    return { user, token: await this.tokenFor(user) };
  }

  /** What each request's token is checked against (TokenService): one primary-key read. */
  async tokenState(em: EntityManager, userId: string): Promise<UserTokenState | null> {
    const [row] = await sqlAll<{ token_version: number; roles: Role[]; merchant_id: string | null }>(
      em,
      'select token_version, roles, merchant_id from app_user where id = $1',
      [userId],
    );
    return row
      ? {
          tokenVersion: row.token_version,
          roles: row.roles,
          merchantId: row.merchant_id == null ? null : String(row.merchant_id),
        }
      : null;
  }

  /** Revokes every token of the user (every device): the token version moves on. */
  async signOut(em: EntityManager, userId: string): Promise<boolean> {
    const rows = await sqlAll(
      em,
      'update app_user set token_version = token_version + 1 where id = $1 returning id',
      [userId],
    );
    this.tokens.forget(userId);
    return rows.length > 0;
  }

  /**
   * Replaces the password after checking the current one; every earlier token is revoked and a new
   * one returned (the device that changed it stays signed in).
   */
  async changePassword(
    em: EntityManager,
    userId: string,
    current: string,
    next: string,
  ): Promise<{ user: User; token: string } | UserError> {
    const user = await em.findOne(User, { id: userId }, { populate: ['passwordHash'] });
    if (!user || !(await verifyPassword(current, user.passwordHash)))
      return UserError.of(ErrorCode.INVALID_CREDENTIALS, 'The current password is wrong', 'currentPassword');
    const weak = this.passwordProblem(next, user.email);
    if (weak) return UserError.of(ErrorCode.PASSWORD_TOO_WEAK, weak, 'newPassword');
    const hash = await hashPassword(next);
    const [row] = await sqlAll<{ token_version: number }>(
      em,
      'update app_user set password_hash = $2, token_version = token_version + 1 where id = $1 returning token_version',
      [userId, hash],
    );
    this.tokens.forget(userId);
    user.tokenVersion = row.token_version;
    return { user, token: await this.tokenFor(user) };
  }

  viewer(em: EntityManager, principal: Principal): Promise<User | null> {
    return em.findOne(User, { id: principal.userId });
  }

  /** A merchant and the user who operates it, together or not at all. */
  async createMerchant(
    em: EntityManager,
    input: { name: string; ownerEmail: string; ownerPassword: string; ownerName: string },
  ): Promise<Merchant> {
    const weak = this.passwordProblem(input.ownerPassword, input.ownerEmail);
    if (weak) throw badInput(weak, 'ownerPassword');
    const passwordHash = await hashPassword(input.ownerPassword);
    try {
      return await em.transactional(async (tx) => {
        const merchant = tx.create(Merchant, { name: input.name.trim() });
        await tx.flush();
        tx.create(User, {
          email: normalizeEmail(input.ownerEmail),
          passwordHash,
          name: input.ownerName.trim(),
          roles: [Role.MERCHANT],
          merchantId: merchant.id,
        });
        await tx.flush();
        return merchant;
      });
    } catch (e) {
      if (e instanceof UniqueConstraintViolationException)
        throw badInput('An account with this email exists', 'ownerEmail');
      throw e;
    }
  }

  /**
   * Creates the bootstrap admin when missing. Returns the generated password when none was
   * configured, so the caller can print it once.
   */
  async ensureAdmin(
    em: EntityManager,
    email: string,
    password: string | undefined,
  ): Promise<{ created: boolean; password?: string }> {
    const existing = await em.findOne(User, { email: normalizeEmail(email) });
    if (existing) return { created: false };
    const generated = password ?? (await import('node:crypto')).randomBytes(12).toString('base64url');
    em.create(User, {
      email: normalizeEmail(email),
      passwordHash: await hashPassword(generated),
      name: 'Administrator',
      roles: [Role.ADMIN],
    });
    try {
      await em.flush();
    } catch (e) {
      // Another process created it at the same moment.
      if (e instanceof UniqueConstraintViolationException) return { created: false };
      throw e;
    }
    return { created: true, password: password ? undefined : generated };
  }
}
