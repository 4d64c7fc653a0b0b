import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { PartnerScope } from '../../shared/partner-scope';

/** The only code that reads or writes the partner, api_key and persisted_document tables. */

export interface PartnerRow {
  id: string;
  merchant_id: string;
  name: string;
  scopes: PartnerScope[];
  created_at: Date;
}

export interface ApiKeyRow {
  id: string;
  partner_id: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface PersistedDocumentRow {
  partner_id: string;
  id: string;
  operation_name: string | null;
  created_at: Date;
}

/** What a request with an API key needs: the key, its partner's merchant and scopes. */
export interface KeyOwnerRow {
  key_id: string;
  partner_id: string;
  merchant_id: string;
  scopes: PartnerScope[];
  /** Whether last_used_at is older than the refresh interval (or unset). */
  stale: boolean;
}

const KEY_COLUMNS = 'id, partner_id, prefix, created_at, last_used_at, revoked_at';
const DOC_COLUMNS = 'partner_id, id, operation_name, created_at';

/** pg returns text[] as a string when the driver does not know the type; normalize. */
const withScopes = <R extends { scopes: unknown }>(r: R): R => ({
  ...r,
  scopes: Array.isArray(r.scopes)
    ? r.scopes
    : String(r.scopes).replace(/^{|}$/g, '').split(',').filter(Boolean),
});

export async function insertPartner(
  tx: EntityManager,
  p: { merchantId: string; name: string; scopes: PartnerScope[] },
): Promise<PartnerRow> {
  const [row] = await sqlAll<PartnerRow>(
    tx,
    'insert into partner (merchant_id, name, scopes) values ($1, $2, $3::text[]) returning *',
    [p.merchantId, p.name, p.scopes],
  );
  return withScopes(row);
}

export async function findPartner(em: EntityManager, id: string): Promise<PartnerRow | undefined> {
  const [row] = await sqlAll<PartnerRow>(em, 'select * from partner where id = $1', [id]);
  return row && withScopes(row);
}

/** Every partner (merchantId null) or those of one merchant, oldest first. */
export async function listPartners(em: EntityManager, merchantId: string | null): Promise<PartnerRow[]> {
  const rows = await sqlAll<PartnerRow>(
    em,
    merchantId === null
      ? 'select * from partner order by id'
      : 'select * from partner where merchant_id = $1 order by id',
    merchantId === null ? [] : [merchantId],
  );
  return rows.map(withScopes);
}

export const merchantExists = async (em: EntityManager, id: string): Promise<boolean> =>
  (await sqlAll(em, 'select 1 from merchant where id = $1', [id])).length > 0;

export async function insertApiKey(
  tx: EntityManager,
  partnerId: string,
  prefix: string,
  hash: string,
): Promise<ApiKeyRow> {
  const [row] = await sqlAll<ApiKeyRow>(
    tx,
    `insert into api_key (partner_id, prefix, secret_hash) values ($1, $2, $3) returning ${KEY_COLUMNS}`,
    [partnerId, prefix, hash],
  );
  return row;
}

/** Active keys of a partner, counted under a lock on the partner row (so a limit holds under races). */
export async function lockPartnerAndCountKeys(tx: EntityManager, partnerId: string): Promise<number> {
  await sqlAll(tx, 'select id from partner where id = $1 for update', [partnerId]);
  const [{ n }] = await sqlAll<{ n: number }>(
    tx,
    'select count(*)::int as n from api_key where partner_id = $1 and revoked_at is null',
    [partnerId],
  );
  return n;
}

export async function findApiKey(em: EntityManager, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await sqlAll<ApiKeyRow>(em, `select ${KEY_COLUMNS} from api_key where id = $1`, [id]);
  return row;
}

/** Revokes once: a second revocation keeps the first time. */
export async function revokeApiKey(em: EntityManager, id: string): Promise<ApiKeyRow> {
  const [row] = await sqlAll<ApiKeyRow>(
    em,
    `update api_key set revoked_at = coalesce(revoked_at, now()) where id = $1 returning ${KEY_COLUMNS}`,
    [id],
  );
  return row;
}

/** The live key with this hash and its partner; a revoked or unknown key is undefined. */
export async function findKeyOwner(
  em: EntityManager,
  hash: string,
  refreshSeconds: number,
): Promise<KeyOwnerRow | undefined> {
  const [row] = await sqlAll<KeyOwnerRow>(
    em,
    `select k.id as key_id, k.partner_id, p.merchant_id, p.scopes,
            (k.last_used_at is null or k.last_used_at < now() - make_interval(secs => $2)) as stale
       from api_key k join partner p on p.id = k.partner_id
      where k.secret_hash = $1 and k.revoked_at is null`,
    [hash, refreshSeconds],
  );
  return row && withScopes(row);
}

/**
 * Records a use at most once per interval, whatever the number of processes: the condition makes
 * concurrent refreshes of one key a single write.
 */
export async function touchApiKey(em: EntityManager, keyId: string, refreshSeconds: number): Promise<void> {
  await sqlAll(
    em,
    `update api_key set last_used_at = now()
      where id = $1 and (last_used_at is null or last_used_at < now() - make_interval(secs => $2))`,
    [keyId, refreshSeconds],
  );
}

/** Inserts the documents not yet registered for the partner; returns how many were new. */
export async function insertDocuments(
  tx: EntityManager,
  partnerId: string,
  docs: { id: string; body: string; operationName: string | null }[],
): Promise<number> {
  if (docs.length === 0) return 0;
  const rows = await sqlAll<{ id: string }>(
    tx,
    `insert into persisted_document (partner_id, id, body, operation_name)
     select $1, d.id, d.body, d.op
       from jsonb_to_recordset($2::jsonb) as d(id text, body text, op text)
     on conflict (partner_id, id) do nothing
     returning id`,
    [partnerId, JSON.stringify(docs.map((d) => ({ id: d.id, body: d.body, op: d.operationName })))],
  );
  return rows.length;
}

/** The text of a document registered for the partner, or undefined. */
export async function documentBody(
  em: EntityManager,
  partnerId: string,
  id: string,
): Promise<string | undefined> {
  const [row] = await sqlAll<{ body: string }>(
    em,
    'select body from persisted_document where partner_id = $1 and id = $2',
    [partnerId, id],
  );
  return row?.body;
}

export const keysOfPartners = (em: EntityManager, partnerIds: readonly string[]) =>
  sqlAll<ApiKeyRow>(
    em,
    `select ${KEY_COLUMNS} from api_key where partner_id = any($1::bigint[]) order by id`,
    [partnerIds],
  );

export const documentsOfPartners = (em: EntityManager, partnerIds: readonly string[]) =>
  sqlAll<PersistedDocumentRow>(
    em,
    `select ${DOC_COLUMNS} from persisted_document where partner_id = any($1::bigint[]) order by created_at, id`,
    [partnerIds],
  );
