import { createHash } from 'node:crypto';
import type { Gql, GqlResponse } from '../support/client';

/** Partners, keys and persisted documents through the public API, as a merchant console would. */

export const docId = (text: string) => 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex');
export const hexOf = (text: string) => docId(text).slice('sha256:'.length);

export async function createPartner(
  gql: Gql,
  token: string,
  scopes: string[],
  merchantId?: string,
): Promise<string> {
  const r = await gql(
    `mutation($i: PartnerCreateInput!) { partnerCreate(input: $i) { id } }`,
    { i: { name: `Partner ${scopes.join('+')}`, scopes, merchantId } },
    token,
  );
  if (!r.data?.partnerCreate) throw new Error(`partnerCreate failed: ${JSON.stringify(r)}`);
  return r.data.partnerCreate.id;
}

export async function createKey(
  gql: Gql,
  token: string,
  partnerId: string,
): Promise<{ id: string; secret: string; prefix: string }> {
  const r = await gql(
    `mutation($p: ID!) { apiKeyCreate(partnerId: $p) { secret apiKey { id prefix } } }`,
    { p: partnerId },
    token,
  );
  if (!r.data?.apiKeyCreate) throw new Error(`apiKeyCreate failed: ${JSON.stringify(r)}`);
  return {
    id: r.data.apiKeyCreate.apiKey.id,
    prefix: r.data.apiKeyCreate.apiKey.prefix,
    secret: r.data.apiKeyCreate.secret,
  };
}

export const REGISTER = `mutation($p: ID!, $d: [PersistedDocumentInput!]!) { persistedDocumentsRegister(partnerId: $p, documents: $d) {
  __typename ... on PersistedDocumentsRegistered { registered unchanged } ... on UserError { errorCode message field } } }`;

export async function register(gql: Gql, token: string, partnerId: string, texts: string[]) {
  const r = await gql(REGISTER, { p: partnerId, d: texts.map((body) => ({ id: docId(body), body })) }, token);
  if (r.data?.persistedDocumentsRegister?.__typename !== 'PersistedDocumentsRegistered')
    throw new Error(`register failed: ${JSON.stringify(r)}`);
  const { registered, unchanged } = r.data.persistedDocumentsRegister;
  return { registered, unchanged } as { registered: number; unchanged: number };
}

/** A POST to /graphql with any JSON body and optional bearer secret. */
export async function post(url: string, body: unknown, secret?: string): Promise<GqlResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
    body: JSON.stringify(body),
  });
  return { ...((await res.json()) as object), status: res.status };
}

/** A GET to /graphql with these query parameters (objects are sent as JSON). */
export async function get(
  url: string,
  params: Record<string, unknown>,
  secret?: string,
): Promise<GqlResponse> {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined) search.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  const res = await fetch(`${url}?${search}`, {
    // Apollo's CSRF prevention lets a GET through with this header (browsers cannot send it cross-site unasked).
    headers: { 'apollo-require-preflight': 'true', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
  });
  return { ...((await res.json()) as object), status: res.status };
}

/** Runs a registered document by id with a partner's key. */
export const runDocument = (
  url: string,
  secret: string,
  text: string,
  variables: Record<string, unknown> = {},
) => post(url, { documentId: docId(text), variables }, secret);
