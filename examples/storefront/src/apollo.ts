import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import type { DocumentNode } from 'graphql';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { getMainDefinition } from '@apollo/client/utilities';
import { getOperationAST, Kind, parse, print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { Observable } from 'rxjs';
import manifest from './gql/persisted-documents.json';
import { session } from './session';

declare global {
  interface Window {
    STOREFRONT_CONFIG?: { apiUrl?: string };
  }
}

/** The API's URL, from public/config.js (set per environment, not at build time). */
export const apiUrl = window.STOREFRONT_CONFIG?.apiUrl ?? 'http://localhost:4000/graphql';

/**
 * The id of a document: codegen embeds it as `__meta__.hash` ("sha256:<hex>"). Apollo Client may
 * hand the link a copy of the document without it, so the manifest is also indexed by operation
 * name (names are unique in this app).
 */
const idsByName = new Map(
  Object.entries(manifest as Record<string, string>).map(
    ([id, text]) => [getOperationAST(parse(text))?.name?.value ?? '', id] as const,
  ),
);
export function documentId(document: DocumentNode): string {
  const embedded = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (embedded) return embedded;
  const name = getOperationAST(document)?.name?.value ?? '';
  const id = idsByName.get(name);
  if (!id)
    throw new Error(
      `Operation ${name || print(document).slice(0, 40)} is not in the persisted-documents manifest`,
    );
  return id;
}

/** The shopper's token on every HTTP request (none when anonymous: catalog answers are then public). */
const auth = new ApolloLink((operation, forward) => {
  const token = session.token;
  if (token)
    operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
      headers: { ...headers, authorization: `Bearer ${token}` },
    }));
  return forward(operation);
});

/**
 * Queries and mutations name their document by hash only (Apollo's APQ protocol, accepted with the
 * "sha256:" prefix); queries go by GET so that a CDN and the browser can cache catalog answers.
 * `apollo-require-preflight` satisfies the server's CSRF prevention for GETs.
 */
const http = ApolloLink.from([
  auth,
  new PersistedQueryLink({ generateHash: documentId, useGETForHashedQueries: true }),
  new HttpLink({ uri: apiUrl, headers: { 'apollo-require-preflight': 'true' } }),
]);

/** graphql-ws on the same URL; the token travels in connection_init. */
let ws: Client | undefined;
function wsClient(): Client {
  ws ??= createClient({
    url: apiUrl.replace(/^http/, 'ws'),
    connectionParams: () => (session.token ? { authorization: `Bearer ${session.token}` } : {}),
    lazy: true,
  });
  return ws;
}

/** Subscriptions send the document's id, never its text (the server resolves it from the manifest). */
const subscriptions = new ApolloLink(
  (operation) =>
    new Observable((observer) =>
      wsClient().subscribe(
        {
          operationName: operation.operationName,
          variables: operation.variables,
          query: '',
          extensions: { persistedQuery: { version: 1, sha256Hash: documentId(operation.query) } },
        },
        {
          next: (value) => observer.next(value as ApolloLink.Result),
          error: (e) => observer.error(e),
          complete: () => observer.complete(),
        },
      ),
    ),
);

const isSubscription = (operation: ApolloLink.Operation) => {
  const def = getMainDefinition(operation.query);
  return def.kind === Kind.OPERATION_DEFINITION && def.operation === 'subscription';
};

export const client = new ApolloClient({
  link: ApolloLink.split(isSubscription, subscriptions, http),
  cache: new InMemoryCache(),
});
