import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { inTransaction } from '../../db/transaction';
import { canManage, isAdmin, PARTNER_USER_ID, type Principal } from '../../shared/auth';
import { ErrorCode, UserError } from '../../shared/error-result';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { Role } from '../identity/user.entity';
import { hashSecret, isWellFormedSecret, newSecret } from './partner.keys';
import { isScope, type PartnerScope } from '../../shared/partner-scope';
import {
  documentBody,
  findApiKey,
  findKeyOwner,
  findPartner,
  insertApiKey,
  insertDocuments,
  insertPartner,
  listPartners,
  lockPartnerAndCountKeys,
  merchantExists,
  revokeApiKey,
  touchApiKey,
  type ApiKeyRow,
  type PartnerRow,
} from './partner.store';

/** lastUsedAt is written at most this often per key: a busy key costs one UPDATE a minute, not one per request. */
export const LAST_USED_REFRESH_SECONDS = 60;
export const MAX_ACTIVE_KEYS = 10;
export const MAX_DOCUMENTS_PER_CALL = 500;
export const MAX_DOCUMENT_LENGTH = 100_000;
const DOCUMENT_ID = /^sha256:[0-9a-f]{64}$/;

/** The id of a document text: "sha256:" and the hex SHA-256 of its UTF-8 bytes. */
export const documentIdOf = (body: string): string =>
  'sha256:' + createHash('sha256').update(body, 'utf8').digest('hex');

/**
 * Whether a document is fit to run (parsed and validated against the schema by the caller, which
 * knows GraphQL): the operation name, or why not.
 */
export type DocumentCheck = (body: string) => { operationName: string | null } | { error: string };

export interface PartnerInput {
  name: string;
  merchantId?: string | null;
  scopes: string[];
}

/** Partners of a merchant, their API keys and the documents they may run. */
export class PartnerService {
  /** Registered documents never change under their id, so found ones are kept (bounded). */
  private readonly bodies = new Map<string, string>();

  constructor(private readonly maxCachedDocuments = 5000) {}

  async create(em: EntityManager, principal: Principal, input: PartnerInput): Promise<PartnerRow> {
    const merchantId = this.merchantFor(principal, input.merchantId ?? null);
    const name = input.name.trim();
    if (name.length < 1 || name.length > 200) throw badInput('The name takes 1 to 200 characters', 'name');
    const bad = input.scopes.find((s) => !isScope(s));
    if (bad !== undefined) throw badInput(`Unknown scope ${bad.slice(0, 40)}`, 'scopes');
    const scopes = [...new Set(input.scopes)] as PartnerScope[];
    if (scopes.length === 0) throw badInput('A partner needs at least one scope', 'scopes');
    if (!(await merchantExists(em, merchantId))) throw notFound('Merchant', merchantId);
    return insertPartner(em, { merchantId, name, scopes });
  }

  /** ADMIN: every partner; MERCHANT: its own. */
  list(em: EntityManager, principal: Principal): Promise<PartnerRow[]> {
    if (isAdmin(principal) && !principal.partner) return listPartners(em, null);
    return listPartners(em, this.ownMerchant(principal));
  }

  async createKey(
    em: EntityManager,
    principal: Principal,
    partnerId: string,
  ): Promise<{ key: ApiKeyRow; secret: string }> {
    await this.managed(em, principal, partnerId);
    return inTransaction(em, async (tx) => {
      if ((await lockPartnerAndCountKeys(tx, partnerId)) >= MAX_ACTIVE_KEYS)
        throw badInput(`A partner has at most ${MAX_ACTIVE_KEYS} active keys: revoke one first`, 'partnerId');
      const s = newSecret();
      return { key: await insertApiKey(tx, partnerId, s.prefix, s.hash), secret: s.secret };
    });
  }

  /** Revoking is immediate for every process: each request looks its key up. Revoking twice is a no-op. */
  async revokeKey(em: EntityManager, principal: Principal, keyId: string): Promise<ApiKeyRow> {
    const key = isId(keyId) ? await findApiKey(em, keyId) : undefined;
    if (!key) throw notFound('API key', keyId.slice(0, 40));
    await this.managed(em, principal, String(key.partner_id), () => notFound('API key', keyId));
    return revokeApiKey(em, keyId);
  }

  /**
   * Registers documents for a partner, all or nothing: every id must be the hash of its body and
   * every body must pass `check`; the first that does not is named and nothing is stored.
   */
  async register(
    em: EntityManager,
    principal: Principal,
    partnerId: string,
    docs: { id: string; body: string }[],
    check: DocumentCheck,
  ): Promise<{ registered: number; unchanged: number } | UserError> {
    await this.managed(em, principal, partnerId);
    if (docs.length > MAX_DOCUMENTS_PER_CALL)
      throw badInput(`At most ${MAX_DOCUMENTS_PER_CALL} documents per call`, 'documents');
    const invalid = (id: string, why: string) =>
      UserError.of(
        ErrorCode.PERSISTED_DOCUMENT_INVALID,
        `Document ${id.slice(0, 80)}: ${why}`,
        id.slice(0, 80),
      );
    const unique = new Map<string, { id: string; body: string; operationName: string | null }>();
    for (const d of docs) {
      if (!DOCUMENT_ID.test(d.id)) return invalid(d.id, 'the id is not "sha256:<64 hex digits>"');
      if (d.body.length > MAX_DOCUMENT_LENGTH)
        return invalid(d.id, `the body is longer than ${MAX_DOCUMENT_LENGTH} characters`);
      if (documentIdOf(d.body) !== d.id) return invalid(d.id, 'the id is not the SHA-256 of the body');
      if (unique.has(d.id)) continue;
      const checked = check(d.body);
      if ('error' in checked) return invalid(d.id, checked.error);
      unique.set(d.id, { ...d, operationName: checked.operationName });
    }
    const registered = await inTransaction(em, (tx) => insertDocuments(tx, partnerId, [...unique.values()]));
    return { registered, unchanged: unique.size - registered };
  }

  /** The text of a document registered for the partner; undefined when it is not. */
  async documentFor(em: EntityManager, partnerId: string, id: string): Promise<string | undefined> {
    if (!DOCUMENT_ID.test(id)) return undefined;
    const key = `${partnerId}/${id}`;
    const known = this.bodies.get(key);
    if (known !== undefined) return known;
    const body = await documentBody(em, partnerId, id);
    if (body !== undefined) {
      if (this.bodies.size >= this.maxCachedDocuments) this.bodies.delete(this.bodies.keys().next().value!);
      this.bodies.set(key, body);
    }
    return body;
  }

  /**
   * The principal of a live API key (null for an unknown, revoked or malformed one): the partner
   * acting for its merchant. Records the use at most once a minute.
   */
  async authenticate(em: EntityManager, secret: string): Promise<Principal | null> {
    if (!isWellFormedSecret(secret)) return null;
    const owner = await findKeyOwner(em, hashSecret(secret), LAST_USED_REFRESH_SECONDS);
    if (!owner) return null;
    if (owner.stale) await touchApiKey(em, String(owner.key_id), LAST_USED_REFRESH_SECONDS);
    const merchantId = String(owner.merchant_id);
    return {
      userId: PARTNER_USER_ID,
      roles: [Role.MERCHANT],
      merchantId,
      partner: { id: String(owner.partner_id), merchantId, scopes: owner.scopes },
    };
  }

  /** The partner, when the principal may manage it (ADMIN, or its MERCHANT); NOT_FOUND otherwise. */
  async managed(
    em: EntityManager,
    principal: Principal,
    partnerId: string,
    missing = () => notFound('Partner', partnerId.slice(0, 40)),
  ): Promise<PartnerRow> {
    if (principal.partner) throw forbidden('Partners cannot manage partners');
    const partner = isId(partnerId) ? await findPartner(em, partnerId) : undefined;
    // Another shop's partner reads as not existing.
    if (!partner || !canManage(principal, String(partner.merchant_id))) throw missing();
    return partner;
  }

  /** ADMIN names the merchant; a MERCHANT creates partners of its own shop only. */
  private merchantFor(principal: Principal, merchantId: string | null): string {
    if (principal.partner) throw forbidden('Partners cannot manage partners');
    if (isAdmin(principal)) {
      if (!merchantId) throw badInput('Name the merchant the partner works for', 'merchantId');
      if (!isId(merchantId)) throw notFound('Merchant', merchantId.slice(0, 40));
      return merchantId;
    }
    const own = this.ownMerchant(principal);
    if (merchantId && merchantId !== own) throw forbidden('A merchant creates partners of its own shop only');
    return own;
  }

  private ownMerchant(principal: Principal): string {
    if (principal.partner || !principal.roles.includes(Role.MERCHANT) || !principal.merchantId)
      throw forbidden('Requires role ADMIN or MERCHANT');
    return principal.merchantId;
  }
}
