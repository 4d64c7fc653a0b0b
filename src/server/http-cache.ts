import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  BREAK,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

/**
 * HTTP caching of the public catalog (docs/http.md "HTTP caching"). A browser storefront's catalog
 * pages (search, facets, a product by slug, the category tree) are the same for every anonymous
 * shopper, so a CDN may serve them; everything else must never be stored by a shared cache.
 *
 * A response is `public, max-age=N` with a weak ETag when, and only when:
 * - it answers a GET (Apollo refuses mutations over GET, and a POST is never cached by CDNs);
 * - the request carries no credentials (no `Authorization` header: no user, no partner key);
 * - the operation is a query whose every root field is in `PUBLIC_ROOT_FIELDS` and that selects no
 *   field in `VIEWER_DEPENDENT_FIELDS` (answers that differ by who asks);
 * - it succeeded: status 200 and no errors (a 429, a 503 or a partial answer is not shared).
 *
 * Requests with credentials are answered `private, no-store`; every other GraphQL response
 * `no-store`. Public answers also carry `Vary: Authorization`, so a cache never hands the anonymous
 * answer to a request that carries a token. `If-None-Match` with the current ETag is answered 304
 * without a body (the query still runs: the ETag is the hash of the answer, which the server has
 * to compute; what is saved is the transfer and the client's parsing).
 */

/** Root fields of the public catalog: answers that depend on the query alone, never on the caller. */
export const PUBLIC_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'products',
  'product',
  'categories',
  'category',
  '__typename',
]);

/** Fields reachable from the catalog whose answer depends on who asks (`Type.field`). */
export const VIEWER_DEPENDENT_FIELDS: ReadonlySet<string> = new Set([
  // Exact stock counts: the product's merchant and admins only (null for anyone else).
  'Variant.inventory',
]);

export type CachePolicy = 'public' | 'private' | 'none';

/** Whether `operation` of `document` reads the public catalog only. */
export function isPublicCatalogOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): boolean {
  if (operation.operation !== 'query') return false;
  const queryType = schema.getQueryType();
  const typeInfo = new TypeInfo(schema);
  // Only the operation that runs and the fragments it may spread (unused fragments cannot run,
  // but counting them errs on the safe side).
  const runs: DocumentNode = {
    ...document,
    definitions: document.definitions.filter((d) => d === operation || d.kind === Kind.FRAGMENT_DEFINITION),
  };
  let isPublic = true;
  visit(
    runs,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const parent = typeInfo.getParentType();
        if (!parent) return;
        const name = node.name.value;
        const fromRoot = parent === queryType;
        if (
          (fromRoot && !PUBLIC_ROOT_FIELDS.has(name)) ||
          VIEWER_DEPENDENT_FIELDS.has(`${parent.name}.${name}`)
        ) {
          isPublic = false;
          return BREAK;
        }
      },
    }),
  );
  return isPublic;
}

/** A weak validator of an answer: the same JSON, the same tag (weak: compression changes the bytes). */
export const etagOf = (body: unknown): string =>
  `W/"${createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 27)}"`;

/** Whether an If-None-Match header names this tag (weak comparison, lists and `*` allowed). */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === wanted);
}

/**
 * Sets Cache-Control (and ETag) on every GraphQL HTTP response. `maxAgeSeconds` 0 turns public
 * caching off. `Vary` and the 304 are the edge's (`finishPublicAnswer` below): an Apollo plugin
 * cannot drop the body, and its headers replace the ones the edge already set (Vary: Origin).
 */
export function httpCachePlugin(schema: GraphQLSchema, maxAgeSeconds: number): ApolloServerPlugin {
  // Apollo reuses parsed documents: decide once per document and operation.
  const decided = new WeakMap<DocumentNode, Map<string, boolean>>();
  const isPublic = (document: DocumentNode, operation: OperationDefinitionNode) => {
    let byOperation = decided.get(document);
    if (!byOperation) decided.set(document, (byOperation = new Map()));
    const key = operation.name?.value ?? '';
    let answer = byOperation.get(key);
    if (answer === undefined)
      byOperation.set(key, (answer = isPublicCatalogOperation(schema, document, operation)));
    return answer;
  };
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response, document, operation, errors }) {
          const http = request.http;
          if (!http) return; // not over HTTP (executeOperation in tests)
          const headers = response.http.headers;
          const credentials = Boolean(http.headers.get('authorization'));
          const status = response.http.status ?? 200;
          const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const cacheable =
            maxAgeSeconds > 0 &&
            http.method === 'GET' &&
            !credentials &&
            status === 200 &&
            !errors?.length &&
            body !== undefined &&
            !body.errors?.length &&
            document !== undefined &&
            operation !== undefined &&
            operation !== null &&
            isPublic(document, operation);
          if (!cacheable) {
            headers.set('cache-control', credentials ? 'private, no-store' : 'no-store');
            return;
          }
          headers.set('cache-control', `public, max-age=${maxAgeSeconds}`);
          // The data only: extensions are diagnostics (SQL statement counts in tests) that vary per run.
          headers.set('etag', etagOf(body.data));
        },
      };
    },
  };
}

/** The part of a Fastify reply `finishPublicAnswer` needs (kept framework-light for unit tests). */
interface ReplyLike {
  getHeader(name: string): unknown;
  header(name: string, value: string): unknown;
  code(status: number): unknown;
}

/**
 * After Apollo answered: an answer without Cache-Control (Apollo's own early refusals, such as a
 * 405 for a mutation over GET or a 400 from CSRF prevention) gets `no-store`; a public answer gets `Authorization` added to `Vary` (next to the
 * `Origin` and `Accept-Encoding` the edge's plugins add), and becomes a bodiless 304 when the
 * request's `If-None-Match` names its ETag. Returns the body to send.
 */
export function finishPublicAnswer<B>(ifNoneMatch: string | undefined, reply: ReplyLike, body: B): B | '' {
  const cacheControl = reply.getHeader('cache-control');
  if (cacheControl === undefined) reply.header('cache-control', 'no-store');
  if (typeof cacheControl !== 'string' || !cacheControl.startsWith('public')) return body;
  const vary = reply.getHeader('vary');
  const varies = typeof vary === 'string' && vary ? vary.split(',').map((v) => v.trim()) : [];
  if (!varies.some((v) => v.toLowerCase() === 'authorization'))
    reply.header('vary', [...varies, 'Authorization'].join(', '));
  const etag = reply.getHeader('etag');
  if (typeof etag === 'string' && ifNoneMatchHits(ifNoneMatch, etag)) {
    reply.code(304);
    return '';
  }
  return body;
}
