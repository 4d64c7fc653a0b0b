import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from '../../shared/errors';
import { ErrorCode, UserError } from '../../shared/error-result';
import type { Principal } from '../../shared/auth';
import { Merchant } from '../catalog/merchant.entity';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './password';
import type { TokenService } from './token';
import { Role, User } from './user.entity';

export const principalOf = (u: User): Principal => ({
  userId: String(u.id),
  roles: u.roles,
  merchantId: u.merchantId ? String(u.merchantId) : null,
});

const normalizeEmail = (email: string) => email.trim().toLowerCase();

export class IdentityService {
  constructor(readonly tokens: TokenService) {}

  async signUp(
    em: EntityManager,
    email: string,
    password: string,
    name: string,
  ): Promise<{ user: User; token: string } | UserError> {
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
    return { user, token: await this.tokens.sign(principalOf(user)) };
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
    return { user, token: await this.tokens.sign(principalOf(user)) };
  }

  viewer(em: EntityManager, principal: Principal): Promise<User | null> {
    return em.findOne(User, { id: principal.userId });
  }

  /** A merchant and the user who operates it, together or not at all. */
  async createMerchant(
    em: EntityManager,
    input: { name: string; ownerEmail: string; ownerPassword: string; ownerName: string },
  ): Promise<Merchant> {
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
