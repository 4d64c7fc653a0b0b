import type { MikroORM } from '@mikro-orm/postgresql';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type OperationTypeNode,
  type ValidationRule,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Config } from '../config';
import type { Principal } from '../shared/auth';
import { createContext } from './context';
import type { PersistedDocumentsEdge } from './persisted-documents';
import type { Services } from './services';
import type { CostReport } from './protection';
import { withoutSuggestions } from './protection/suggestions';

/** Close codes of the caps (4xxx: application codes; graphql-ws uses 4400-4499 the same way). */
export const WS_CLOSE = { tooManyForUser: 4429, slowReader: 4413 } as const;

/** A socket whose unsent output exceeds this is not reading: it is closed rather than buffered. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export interface WsDeps {
  config: Config;
  orm: MikroORM;
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  rules: ValidationRule[];
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** The client's address of a request (TRUST_PROXY applied). */
  clientAddress: { of(req: IncomingMessage): string };
  /** The principal of an `authorization` value; throws when the token is invalid. */
  principalFrom(authorization: string | null): Promise<Principal | null>;
  /** Registered and trusted documents, partner scopes. */
  persisted: PersistedDocumentsEdge;
}

/** The operation a payload runs (by name, or the only one). */
function operationOf(document: DocumentNode, operationName?: string | null): OperationTypeNode | undefined {
  const ops = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
  return op?.operation;
}

/** `authorization` from connection_init params in any letter case (Authorization, AUTHORIZATION, ...). */
export function authorizationParam(params: Record<string, unknown> | undefined): string | null {
  for (const [k, v] of Object.entries(params ?? {})) {
    if (k.toLowerCase() === 'authorization' && typeof v === 'string') return v;
  }
  return null;
}

/** Counts per key (IP, user) with a cap; a key disappears when its count drops to zero. */
class Counter {
  private readonly counts = new Map<string, number>();
  constructor(readonly max: number) {}
  tryAcquire(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(key, n + 1);
    return true;
  }
  release(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }
}

function refuseUpgrade(socket: Duplex, status: number, reason: string) {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * graphql-ws on the HTTP server's `/graphql` path, with the HTTP side's validation rules and the
 * caps of docs/http.md: connections per IP (refused at the upgrade with 429) and per user (closed
 * with 4429 after connection_init), operations in flight per socket, an init timeout, a message size
 * limit, and no mutations from anonymous sockets.
 */
export function attachGraphqlWs(server: Server, deps: WsDeps) {
  const { config, orm, schema, services, log, rules, formatError } = deps;
  const caps = config.edge.ws;
  const wss = new WebSocketServer({ noServer: true, maxPayload: caps.maxPayloadBytes });
  const perIp = new Counter(caps.maxConnectionsPerIp);
  const perUser = new Counter(caps.maxConnectionsPerUser);

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/graphql') return refuseUpgrade(socket, 404, 'Not Found');
    const ip = deps.clientAddress.of(req);
    if (!perIp.tryAcquire(ip)) {
      log.warn({ ip }, 'WebSocket refused: too many connections from this address');
      return refuseUpgrade(socket, 429, 'Too Many Requests');
    }
    let released = false;
    const release = () => {
      if (!released) perIp.release(ip);
      released = true;
    };
    socket.once('close', release);
    wss.handleUpgrade(req, socket, head, (client) => {
      client.once('close', release);
      wss.emit('connection', client, req);
    });
  };
  server.on('upgrade', onUpgrade);

  const wsRules = [
    ...specifiedRules,
    ...rules,
    ...(config.production ? [NoSchemaIntrospectionCustomRule] : []),
  ];
  // Clients subscribe with a handful of query texts: each is parsed and validated once, and its
  // document shared by every subscription that sends it (5,000 trackers, one validation).
  const documents = new Map<string, DocumentNode>();
  const prepare = (query: string): DocumentNode | readonly GraphQLError[] => {
    const known = documents.get(query);
    if (known) return known;
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (e) {
      return [e as GraphQLError];
    }
    const errors = validate(schema, document, wsRules);
    // Production hides the schema in validation errors, as over HTTP (issue 12).
    if (errors.length) return config.production ? withoutSuggestions(errors) : errors;
    if (documents.size >= 1000) documents.delete(documents.keys().next().value!);
    documents.set(query, document);
    return document;
  };

  // The cost report of each running operation, by the execution arguments graphql-ws hands back.
  const costs = new WeakMap<object, CostReport>();
  const ws = useServer<
    Record<string, unknown> | undefined,
    {
      principal?: Principal | null;
      expiryTimer?: NodeJS.Timeout;
      userSlot?: string;
      /** The connection's credentials, checked again at each subscribe (signOut revokes them). */
      authorization?: string | null;
    }
  >(
    {
      schema,
      connectionInitWaitTimeout: caps.initTimeoutMs,
      onConnect: async (ctx) => {
        let principal: (Principal & { expiresAt?: number }) | null;
        try {
          principal = await deps.principalFrom(authorizationParam(ctx.connectionParams));
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
        if (principal) {
          if (!perUser.tryAcquire(principal.userId)) {
            ctx.extra.socket.close(WS_CLOSE.tooManyForUser, 'Too many connections for this user');
            return false;
          }
          // The socket may have gone while the token was checked; onClose has run then.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
            perUser.release(principal.userId);
            return false;
          }
          ctx.extra.userSlot = principal.userId;
        }
        ctx.extra.principal = principal;
        ctx.extra.authorization = authorizationParam(ctx.connectionParams);
        if (principal?.expiresAt) {
          // A socket lives no longer than its token.
          ctx.extra.expiryTimer = setTimeout(
            () => ctx.extra.socket.close(4403, 'Token expired'),
            Math.max(0, principal.expiresAt - Date.now()),
          );
        }
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws records the operation before asking us, so it counts itself.
        if (Object.keys(ctx.subscriptions).length > caps.maxSubscriptionsPerSocket) {
          return [
            new GraphQLError(`At most ${caps.maxSubscriptionsPerSocket} operations per connection`, {
              extensions: { code: 'RATE_LIMITED' },
            }),
          ];
        }
        // A client that floods us without reading the answers is not buffered without bound.
        if (ctx.extra.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          ctx.extra.socket.close(WS_CLOSE.slowReader, 'Not reading');
          return [new GraphQLError('Not reading', { extensions: { code: 'RATE_LIMITED' } })];
        }
        // A user's token may have been revoked since connection_init (signOut, password change).
        if (ctx.extra.principal && !ctx.extra.principal.partner) {
          const still = await deps.principalFrom(ctx.extra.authorization ?? null).catch(() => null);
          if (!still) {
            ctx.extra.socket.close(4403, 'Token revoked');
            return [new GraphQLError('Sign in again', { extensions: { code: 'UNAUTHENTICATED' } })];
          }
          ctx.extra.principal = { ...still, partner: undefined };
        }
        const principal = ctx.extra.principal ?? null;
        // Partners and trusted-documents mode run registered documents only (by documentId or APQ).
        const resolved = await deps.persisted.subscription(payload as any, principal);
        if (!('query' in resolved)) return resolved;
        const document = prepare(resolved.query);
        if (!('kind' in document)) return document;
        const notAllowed = deps.persisted.checkOperation(principal, document, payload.operationName);
        if (notAllowed) return notAllowed;
        // Cost (with this subscribe's variables) and rate limits, as over HTTP.
        const { refused, cost } = await services.protection.checkSubscribe(
          schema,
          document,
          payload,
          principal,
          deps.clientAddress.of(ctx.extra.request),
        );
        if (refused) return refused;
        const operation = operationOf(document, payload.operationName);
        if (!ctx.extra.principal) {
          // Every subscription follows someone's orders: without credentials the socket is closed (4401).
          if (operation === 'subscription') {
            ctx.extra.socket.close(4401, 'Unauthorized');
            return [new GraphQLError('Sign in first', { extensions: { code: 'UNAUTHENTICATED' } })];
          }
          // Writes need a signed-in socket; public reads are what anonymous HTTP can do anyway.
          if (operation === 'mutation') {
            return [
              new GraphQLError('Sign in first: mutations over WebSocket need a token in connection_init', {
                extensions: { code: 'UNAUTHENTICATED' },
              }),
            ];
          }
        }
        const args = {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
        };
        costs.set(args, cost); // every result carries extensions.cost, as over HTTP (issue 12)
        return args;
      },
      onClose: (ctx) => {
        clearTimeout(ctx.extra.expiryTimer);
        if (ctx.extra.userSlot) perUser.release(ctx.extra.userSlot);
        ctx.extra.userSlot = undefined;
      },
      context: (ctx) => ({
        ...createContext(
          orm.em as any,
          ctx.extra.principal ?? null,
          services,
          config,
          log.child({ transport: 'ws', userId: ctx.extra.principal?.userId }),
        ),
        clientIp: deps.clientAddress.of(ctx.extra.request),
      }),
      onNext: (_ctx, _id, _payload, args, result) => {
        const cost = costs.get(args);
        const extensions = cost ? { ...result.extensions, cost } : result.extensions;
        if (!result.errors?.length) return cost ? ({ ...result, extensions } as any) : undefined;
        return {
          ...result,
          extensions,
          errors: result.errors.map((e) => formatError(e.toJSON() as GraphQLFormattedError, e)),
        } as any;
      },
    },
    wss,
  );

  return {
    async close() {
      server.off('upgrade', onUpgrade);
      await ws.dispose();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
