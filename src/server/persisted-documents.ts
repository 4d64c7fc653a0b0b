import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import type { MikroORM } from '@mikro-orm/postgresql';
import { getOperationAST, GraphQLError, Kind, parse, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { partnerOperationError } from '../modules/partner/partner.access';
import { documentCheck } from '../modules/partner/partner.documents';
import type { Principal } from '../shared/auth';
import { RedisKeyValueCache } from './apq-cache';
import type { Context } from './context';
import { limitRules } from './limits';
import type { Services } from './services';

/**
 * Persisted documents at the HTTP edge. A request names its document by `documentId`
 * ("sha256:<hex>", POST body or GET query string), by Apollo APQ
 * (`extensions.persistedQuery.sha256Hash`, with or without "sha256:"), or sends its text:
 *
 * - a partner (API key) runs only documents registered for it;
 * - with TRUSTED_DOCUMENTS=enforce everyone else runs only the manifest's documents;
 * - otherwise anything goes: manifest ids resolve to their text, other ids go to Apollo's APQ
 *   store (Redis when REDIS_URL is set, bounded memory otherwise).
 *
 * `translateHttpRequest` is the pure-ish core: the parsed request and the principal in, the
 * request Apollo should run (or an HTTP error) out. It does not depend on the HTTP framework.
 */

/** An error answered without running anything. */
export interface PersistedError {
  status: number;
  code: 'BAD_REQUEST' | 'PERSISTED_QUERY_REQUIRED' | 'PERSISTED_QUERY_NOT_FOUND' | 'UNAUTHENTICATED';
  message: string;
}

/** Where documents come from. */
export interface DocumentSources {
  /** TRUSTED_DOCUMENTS=enforce: non-partners run manifest documents only. */
  enforce: boolean;
  /** The manifest: "sha256:<hex>" → document text. */
  trusted: ReadonlyMap<string, string>;
  /** The text of a document registered for a partner. */
  forPartner(partnerId: string, id: string): Promise<string | undefined>;
}

/** A GraphQL-over-HTTP request as the framework parsed it. */
export interface HttpGraphQLInput {
  method: string;
  /** The parsed JSON body of a POST (anything else passes through untouched). */
  body: unknown;
  /** The query string, with its leading "?" (GET parameters). */
  search: string;
}

export type HttpTranslation = { ok: true; request: HttpGraphQLInput } | { ok: false; error: PersistedError };

interface Params {
  query?: string;
  documentId?: string;
  extensions?: Record<string, unknown>;
}

/** What to do with a request. */
type Resolution =
  /** Run this text (found by id); the request's persisted-document fields are dropped. */
  | { kind: 'text'; query: string }
  /** Let Apollo's APQ find (or, with `query`, store) the document under `hash`. */
  | { kind: 'apq'; hash: string; query?: string }
  /** Run the request as sent. */
  | { kind: 'asSent' }
  | { kind: 'error'; error: PersistedError };

const HEX = /^[0-9a-f]{64}$/;
const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const fail = (status: number, code: PersistedError['code'], message: string): Resolution => ({
  kind: 'error',
  error: { status, code, message },
});
const badRequest = (message: string) => fail(400, 'BAD_REQUEST', message);
const required = () =>
  fail(400, 'PERSISTED_QUERY_REQUIRED', 'Only registered documents may run here: send documentId');
// Apollo clients retry with the full text on exactly this code and message, answered with 200.
const notFound = () => fail(200, 'PERSISTED_QUERY_NOT_FOUND', 'PersistedQueryNotFound');

/** The hex hash a request names, or an error for a malformed or contradictory one. */
function namedHash(p: Params): { hash?: string } | { error: Resolution } {
  let fromId: string | undefined;
  if (p.documentId !== undefined) {
    const m = typeof p.documentId === 'string' ? /^sha256:([0-9a-fA-F]{64})$/.exec(p.documentId) : null;
    if (!m) return { error: badRequest('documentId must be "sha256:" followed by 64 hex digits') };
    fromId = m[1].toLowerCase();
  }
  let fromApq: string | undefined;
  const pq = p.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined;
  if (pq !== undefined) {
    const raw = typeof pq?.sha256Hash === 'string' ? pq.sha256Hash.replace(/^sha256:/, '').toLowerCase() : '';
    if (!HEX.test(raw)) return { error: badRequest('persistedQuery.sha256Hash must be 64 hex digits') };
    fromApq = raw;
  }
  if (fromId && fromApq && fromId !== fromApq)
    return { error: badRequest('documentId and persistedQuery.sha256Hash name different documents') };
  return { hash: fromId ?? fromApq };
}

/** Decides how a request runs, from its parameters and who sends it. */
export async function resolveDocument(
  p: Params,
  principal: Principal | null,
  sources: DocumentSources,
): Promise<Resolution> {
  const named = namedHash(p);
  if ('error' in named) return named.error;
  const { hash } = named;
  const text = typeof p.query === 'string' && p.query !== '' ? p.query : undefined;
  // A hash that does not match the text sent with it is the client's mistake: 400, never a 500.
  if (hash && text !== undefined && sha256Hex(text) !== hash)
    return badRequest('The document id is not the SHA-256 of the document text sent with it');

  const partner = principal?.partner;
  if (partner || sources.enforce) {
    if (!hash) return required();
    const known = partner
      ? await sources.forPartner(partner.id, `sha256:${hash}`)
      : sources.trusted.get(`sha256:${hash}`);
    if (known !== undefined) return { kind: 'text', query: known };
    // Sending the text of an unregistered document is an ad-hoc request, not a cache miss.
    return text !== undefined ? required() : notFound();
  }
  if (!hash) return { kind: 'asSent' };
  const trusted = sources.trusted.get(`sha256:${hash}`);
  if (trusted !== undefined) return { kind: 'text', query: trusted };
  return { kind: 'apq', hash, query: text };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The request Apollo should run instead of the one the client sent. */
export async function translateHttpRequest(
  input: HttpGraphQLInput,
  principal: Principal | null,
  sources: DocumentSources,
): Promise<HttpTranslation> {
  // Only GET and POST run operations; Apollo answers anything else (a preflight, a PUT) itself.
  if (input.method !== 'GET' && input.method !== 'POST') return { ok: true, request: input };
  const isGet = input.method === 'GET';
  const search = new URLSearchParams(input.search);
  let params: Params;
  if (isGet) {
    let extensions: Record<string, unknown> | undefined;
    const rawExtensions = search.get('extensions');
    if (rawExtensions !== null) {
      try {
        extensions = JSON.parse(rawExtensions);
      } catch {
        return { ok: false, error: { status: 400, code: 'BAD_REQUEST', message: 'extensions is not JSON' } };
      }
    }
    params = {
      query: search.get('query') ?? undefined,
      documentId: search.get('documentId') ?? undefined,
      extensions: isObject(extensions) ? extensions : undefined,
    };
  } else {
    // A batch or a non-JSON body names no document: ad-hoc for partners, Apollo's to judge otherwise.
    const b = isObject(input.body) ? input.body : {};
    params = {
      query: b.query as string | undefined,
      documentId: b.documentId as string | undefined,
      extensions: isObject(b.extensions) ? b.extensions : undefined,
    };
  }
  const r = await resolveDocument(params, principal, sources);
  if (r.kind === 'error') return { ok: false, error: r.error };
  if (r.kind === 'asSent') return { ok: true, request: input };

  const { persistedQuery: _dropped, ...otherExtensions } = params.extensions ?? {};
  const extensions =
    r.kind === 'apq'
      ? { ...otherExtensions, persistedQuery: { version: 1, sha256Hash: r.hash } }
      : otherExtensions;
  const query = r.query;
  if (isGet) {
    search.delete('documentId');
    search.delete('query');
    search.delete('extensions');
    if (query !== undefined) search.set('query', query);
    if (Object.keys(extensions).length) search.set('extensions', JSON.stringify(extensions));
    return { ok: true, request: { ...input, search: `?${search}` } };
  }
  const { documentId: _id, query: _q, extensions: _e, ...rest } = input.body as Record<string, unknown>;
  const body = {
    ...rest,
    ...(query !== undefined ? { query } : {}),
    ...(Object.keys(extensions).length ? { extensions } : {}),
  };
  return { ok: true, request: { ...input, body } };
}

/** The JSON body of an error answered at the edge (the shape of a GraphQL error response). */
export const persistedErrorBody = (e: PersistedError) => ({
  errors: [{ message: e.message, extensions: { code: e.code } }],
});

/** Reads and checks a trusted-documents manifest: every id must hash its text, every text validate. */
export function loadManifest(path: string, schema: GraphQLSchema, config: Config): Map<string, string> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!isObject(raw))
    throw new Error(`${path}: a manifest is a JSON object { "sha256:<hex>": "<document>" }`);
  const check = documentCheck(schema, limitRules(config.limits));
  const manifest = new Map<string, string>();
  for (const [id, text] of Object.entries(raw)) {
    if (typeof text !== 'string' || `sha256:${sha256Hex(text)}` !== id)
      throw new Error(`${path}: ${id.slice(0, 80)} is not the SHA-256 of its document`);
    const checked = check(text);
    if ('error' in checked) throw new Error(`${path}: ${id} ${checked.error}`);
    manifest.set(id, text);
  }
  return manifest;
}

export interface PersistedDocumentsEdge {
  /** Apollo's `persistedQueries` option: the APQ store. */
  persistedQueries: { cache: KeyValueCache<string>; ttl: number };
  /** Checks every operation Apollo resolves: partner scopes, and registered/trusted documents only. */
  plugin: ApolloServerPlugin<Context>;
  /** The principal of the request and the request to run, or the HTTP error to answer. */
  prepare(
    input: HttpGraphQLInput,
    principalOf: () => Promise<Principal | null>,
  ): Promise<
    | { ok: true; request: HttpGraphQLInput; principal: Principal | null }
    | { ok: false; error: PersistedError }
  >;
  /** graphql-ws: the text to run for a subscribe message, or the errors to answer. */
  subscription(
    payload: { query?: string; extensions?: Record<string, unknown> | null } & Record<string, unknown>,
    principal: Principal | null,
  ): Promise<{ query: string } | GraphQLError[]>;
  /** graphql-ws: the scope check the Apollo plugin makes over HTTP. */
  checkOperation(
    principal: Principal | null,
    document: DocumentNode,
    operationName?: string | null,
  ): GraphQLError[] | null;
  /**
   * Operation names of registered documents (the manifest's, and partners' documents once they ran
   * here): always labelled in /metrics (OperationLabels).
   */
  knownOperation(name: string): boolean;
  close(): Promise<void>;
}

/** The names of the operations a document defines. */
const operationNamesOf = (text: string): string[] =>
  parse(text)
    .definitions.map((d) => (d.kind === Kind.OPERATION_DEFINITION ? d.name?.value : undefined))
    .filter((n): n is string => n !== undefined);

const required_ = (message = 'Only registered documents may run here: send documentId') =>
  new GraphQLError(message, { extensions: { code: 'PERSISTED_QUERY_REQUIRED', http: { status: 400 } } });

/** Everything persisted documents need at the edge, built once per HTTP server. */
export function createPersistedDocuments(deps: {
  config: Config;
  orm: MikroORM;
  services: Services;
  schema: GraphQLSchema;
  log: Logger;
}): PersistedDocumentsEdge {
  const { config, orm, services, schema, log } = deps;
  const { manifestPath, enforce, apqTtlSeconds } = config.trustedDocuments;
  const trusted = manifestPath ? loadManifest(manifestPath, schema, config) : new Map<string, string>();
  if (manifestPath) log.info({ documents: trusted.size, enforce }, 'trusted documents loaded');
  // Bounded by what merchants registered and the manifest: no client can add a name here.
  const knownNames = new Set([...trusted.values()].flatMap(operationNamesOf));
  const sources: DocumentSources = {
    enforce,
    trusted,
    forPartner: (partnerId, id) => services.partners.documentFor(orm.em.fork() as any, partnerId, id),
  };
  const redis = config.redisUrl ? RedisKeyValueCache.connect(config.redisUrl, log) : undefined;
  // Bounded by size (16 MiB of document text) when there is no Redis.
  const cache: KeyValueCache<string> = redis ?? new InMemoryLRUCache<string>({ maxSize: 2 ** 24 });

  return {
    persistedQueries: { cache, ttl: apqTtlSeconds },
    plugin: {
      async requestDidStart() {
        return {
          // Also guards a route that forgot prepare(): a partner's document must be registered.
          async didResolveOperation({ contextValue, document, operation, queryHash }) {
            const p = contextValue.principal;
            const id = `sha256:${queryHash}`;
            if (p?.partner) {
              if ((await sources.forPartner(p.partner.id, id)) === undefined) throw required_();
              if (operation?.name) knownNames.add(operation.name.value);
              if (operation) {
                const e = partnerOperationError(p, document, operation);
                if (e) throw e;
              }
            } else if (enforce && !trusted.has(id)) throw required_();
          },
        };
      },
    },
    async prepare(input, principalOf) {
      let principal: Principal | null;
      try {
        principal = await principalOf();
      } catch (e) {
        if (e instanceof GraphQLError && e.extensions.code === 'UNAUTHENTICATED')
          return { ok: false, error: { status: 401, code: 'UNAUTHENTICATED', message: e.message } };
        throw e;
      }
      const t = await translateHttpRequest(input, principal, sources);
      return t.ok ? { ok: true, request: t.request, principal } : t;
    },
    async subscription(payload, principal) {
      const r = await resolveDocument(
        {
          query: payload.query,
          documentId: payload.documentId as string | undefined,
          extensions: isObject(payload.extensions) ? payload.extensions : undefined,
        },
        principal,
        sources,
      );
      if (r.kind === 'error')
        return [new GraphQLError(r.error.message, { extensions: { code: r.error.code } })];
      if (r.kind === 'text') return { query: r.query };
      if (r.kind === 'apq' && r.query === undefined) {
        const known = await cache.get(`apq:${r.hash}`);
        if (known === undefined)
          return [
            new GraphQLError('PersistedQueryNotFound', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }),
          ];
        return { query: known };
      }
      return { query: payload.query ?? '' };
    },
    checkOperation(principal, document, operationName) {
      const operation = getOperationAST(document, operationName);
      const e = operation ? partnerOperationError(principal, document, operation) : null;
      return e ? [e] : null;
    },
    knownOperation: (name) => knownNames.has(name),
    async close() {
      await redis?.close();
    },
  };
}
