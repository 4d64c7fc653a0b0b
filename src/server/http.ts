import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  type DocumentNode,
  type OperationDefinitionNode,
  specifiedRules,
  validate,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Config } from '../config';
import { sqlCounterStorage, type SqlCounter } from '../db/sql-stats';
import type { Principal } from '../shared/auth';
import { createContext, type Context } from './context';
import { makeFormatError } from './errors';
import { limitRules } from './limits';
import { readinessRoute } from './readiness';
import { serviceUnavailablePlugin } from './unavailable-plugin';
import type { Metrics } from './metrics';
import type { Services } from './services';

export interface HttpDeps {
  config: Config;
  orm: MikroORM;
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  metrics: Metrics;
}

export interface RunningHttp {
  server: Server;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

type RequestContext = Context & { sql: SqlCounter };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = 'BAD_REQUEST',
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'Request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** Whether the operation to run is a subscription. */
function isSubscription(document: DocumentNode, operationName?: string | null): boolean {
  const ops = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
  return op?.operation === 'subscription';
}

const invalidToken = () =>
  new GraphQLError('Invalid or expired token', {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });

/** Reports SQL statements per operation (tests and benchmarks read it) and feeds metrics. */
function sqlStatsPlugin(config: Config, metrics: Metrics): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response, operationName, errors }) {
          metrics.sqlStatements.observe(contextValue.sql.statements);
          metrics.requests.inc({
            operation: operationName ?? 'anonymous',
            outcome: errors?.length ? 'error' : 'ok',
          });
          if (config.exposeSqlStats && response.body.kind === 'single') {
            response.body.singleResult.extensions = {
              ...response.body.singleResult.extensions,
              sqlStatements: contextValue.sql.statements,
            };
          }
        },
      };
    },
  };
}

/** One HTTP server: POST /graphql (Apollo), graphql-ws on the same path, health and metrics. */
export async function startHttp(
  deps: HttpDeps,
  extraRoutes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {},
): Promise<RunningHttp> {
  const { config, orm, schema, services, log, metrics } = deps;
  const server = createServer();
  const rules = limitRules(config.limits);
  const formatError = makeFormatError(log);

  const apollo = new ApolloServer<RequestContext>({
    schema,
    formatError,
    validationRules: rules,
    introspection: !config.production,
    // main.ts owns SIGINT/SIGTERM; Apollo's own handler would race it (a concurrent stop() can hang).
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    plugins: [
      // In-flight requests get 5 s to finish at shutdown (they are short; clients retry the rest).
      ApolloServerPluginDrainHttpServer({ httpServer: server, stopGracePeriodMillis: 5_000 }),
      // No HTTP cache hints are set; the plugin would still visit every resolved field.
      ApolloServerPluginCacheControlDisabled(),
      config.production
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ footer: false }),
      sqlStatsPlugin(config, metrics),
      serviceUnavailablePlugin(config.readiness.retryAfterSeconds),
    ],
  });
  await apollo.start();

  const principalFrom = async (authorization: string | undefined | null): Promise<Principal | null> => {
    if (!authorization) return null;
    const p = await services.tokens.fromHeader(authorization);
    if (!p) throw invalidToken();
    return p;
  };

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL) {
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const raw = await readBody(req);
      if ((req.headers['content-type'] ?? '').includes('application/json')) {
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          throw new HttpError(400, 'Malformed JSON body');
        }
      } else body = raw;
    }
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const counter: SqlCounter = { statements: 0 };
    const result = await sqlCounterStorage.run(counter, () =>
      apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
        context: async () => {
          const principal = await principalFrom(req.headers.authorization);
          return { ...createContext(orm.em as any, principal, services, config), sql: counter };
        },
      }),
    );
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of result.headers) outHeaders[k] = v;
    res.writeHead(result.status ?? 200, outHeaders);
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>> = {
    '/graphql': handleGraphQL,
    '/healthz': async (_req, res) => sendJson(res, 200, { status: 'ok' }),
    '/readyz': readinessRoute(orm, config.readiness),
    '/metrics': async (_req, res) => {
      res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
      res.end(await deps.metrics.registry.metrics());
    },
    ...extraRoutes,
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
    const end = metrics.duration.startTimer({ route: route ? url.pathname : 'unknown' });
    if (!route) {
      sendJson(res, 404, { error: 'Not found' });
      end();
      return;
    }
    route(req, res, url)
      .catch((err: unknown) => {
        if (err instanceof HttpError) {
          if (!res.headersSent)
            sendJson(res, err.status, { errors: [{ message: err.message, extensions: { code: err.code } }] });
        } else {
          log.error({ err }, 'unhandled HTTP error');
          if (!res.headersSent)
            sendJson(res, 500, {
              errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
            });
          else res.end();
        }
      })
      .finally(end);
  });

  // graphql-ws on the same path; the same limits; the token comes in connection_init.
  const wss = new WebSocketServer({ server, path: '/graphql' });
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
    if (errors.length) return errors;
    if (documents.size >= 1000) documents.delete(documents.keys().next().value!);
    documents.set(query, document);
    return document;
  };
  const ws = useServer<
    Record<string, unknown> | undefined,
    { principal?: Principal | null; expiryTimer?: NodeJS.Timeout }
  >(
    {
      schema,
      onConnect: async (ctx) => {
        const auth = ctx.connectionParams?.authorization;
        try {
          const principal = await principalFrom(typeof auth === 'string' ? auth : null);
          ctx.extra.principal = principal;
          const expiresAt = (principal as (Principal & { expiresAt?: number }) | null)?.expiresAt;
          if (expiresAt) {
            // A socket lives no longer than its token.
            ctx.extra.expiryTimer = setTimeout(
              () => ctx.extra.socket.close(4403, 'Token expired'),
              Math.max(0, expiresAt - Date.now()),
            );
          }
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onSubscribe: (ctx, _id, payload) => {
        const document = prepare(payload.query);
        if (!('kind' in document)) return document;
        // Every subscription follows someone's orders: without credentials the socket is closed (4401).
        if (!ctx.extra.principal && isSubscription(document, payload.operationName)) {
          ctx.extra.socket.close(4401, 'Unauthorized');
          return [new GraphQLError('Sign in first', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        return { schema, document, variableValues: payload.variables, operationName: payload.operationName };
      },
      onClose: (ctx) => clearTimeout(ctx.extra.expiryTimer),
      context: (ctx) => createContext(orm.em as any, ctx.extra.principal ?? null, services, config),
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return;
        return {
          ...result,
          errors: result.errors.map((e) => formatError(e.toJSON() as GraphQLFormattedError, e)),
        } as any;
      },
    },
    wss,
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue: bursts of new connections (flash sales, load tests) are queued, not reset.
    server.listen({ port: config.port, backlog: 4096 }, () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    server,
    port,
    async close() {
      await ws.dispose();
      await new Promise<void>((r) => wss.close(() => r()));
      await apollo.stop(); // drains HTTP connections
    },
  };
}
