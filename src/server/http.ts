import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import fastifyCompress from '@fastify/compress';
import fastifyCors from '@fastify/cors';
import type { MikroORM } from '@mikro-orm/postgresql';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { sqlCounterStorage, type SqlCounter } from '../db/sql-stats';
import type { Principal } from '../shared/auth';
import { operationMetricsPlugin, type OperationNote, type RequestContext } from './apollo-plugins';
import { createContext } from './context';
import { corsOptions } from './cors';
import { makeFormatError, unavailableError } from './errors';
import { unavailableReason } from '../db/pg-errors';
import { limitRules } from './limits';
import { finishPublicAnswer, httpCachePlugin } from './http-cache';
import { createPersistedDocuments, persistedErrorBody } from './persisted-documents';
import { metricsHandler, startMetricsServer } from './metrics-route';
import { readinessChecker } from './readiness';
import { serviceUnavailablePlugin } from './unavailable-plugin';
import type { Metrics } from './metrics';
import { OperationLabels } from './operation-labels';
import { clientAddressOf, requestId, traceId } from './request-id';
import { requestLogStorage } from './request-log';
import type { Services } from './services';
import { attachGraphqlWs } from './ws';

export type { RequestContext } from './apollo-plugins';

/** A route that handles its own request and response (webhooks: they need the raw body). */
export type RawRoute = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface HttpDeps {
  config: Config;
  orm: MikroORM;
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  metrics: Metrics;
  /** Operation names always labelled in /metrics (registered documents). Default: none. */
  knownOperation?: (name: string) => boolean;
  /** More Apollo plugins (status codes, cost, rate limits); they see the request's context. */
  plugins?: ApolloServerPlugin<RequestContext>[];
}

export interface RunningHttp {
  server: Server;
  port: number;
  /** The port of /metrics when METRICS_PORT is set. */
  metricsPort?: number;
  fastify: FastifyInstance;
  close(): Promise<void>;
}

/** In-flight requests get this long at shutdown (they are short; clients retry the rest). */
const DRAIN_MS = 5_000;

/** Request headers a browser on an allowed origin may send (CORS preflight answers these). */
export const CORS_ALLOWED_HEADERS = [
  'content-type',
  'authorization',
  'x-request-id',
  'traceparent',
  'tracestate',
  // Apollo's CSRF prevention and client identification.
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'apollographql-client-name',
  'apollographql-client-version',
  // Persisted documents / APQ sent as headers by some clients.
  'x-graphql-document-id',
  'x-apollo-persisted-query',
  'if-none-match',
];

const invalidToken = () =>
  new GraphQLError('Invalid or expired token', {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });

/** The GraphQL-shaped error body every non-GraphQL failure of /graphql gets. */
const errorBody = (message: string, code: string) => ({ errors: [{ message, extensions: { code } }] });

declare module 'fastify' {
  interface FastifyRequest {
    /** The GraphQL operation of this request, for the access log (set by the metrics plugin). */
    graphql?: OperationNote;
    /** Who is calling (a user's token or a partner's key), read once by the /graphql route. */
    principal?: Principal | null;
  }
}

/** Listens on every interface, IPv6 and IPv4 when available (Node's own default), else IPv4. */
async function listen(app: FastifyInstance, port: number): Promise<void> {
  try {
    await app.listen({ port, host: '::', backlog: 4096 });
  } catch (e) {
    if (!['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    await app.listen({ port, host: '0.0.0.0', backlog: 4096 });
  }
}

/**
 * The HTTP edge (docs/http.md): Fastify with CORS, compression, request ids in every log line, one
 * access-log line per request, timeouts and body limits; Apollo on GET/POST /graphql, graphql-ws on
 * the same path, health, readiness, metrics, and the raw-body routes app.ts passes (webhooks).
 */
export async function startHttp(
  deps: HttpDeps,
  extraRoutes: Record<string, RawRoute> = {},
): Promise<RunningHttp> {
  const { config, orm, schema, services, log, metrics } = deps;
  const edge = config.edge;
  const rules = [...limitRules(config.limits), ...services.protection.validationRules()];
  const formatError = makeFormatError(log);
  // Persisted documents, partners' API keys, trusted documents (src/server/persisted-documents.ts).
  const persisted = createPersistedDocuments({ config, orm, services, schema, log });
  // Registered documents' names are always labelled (the manifest's; partners' once they ran).
  const labels = new OperationLabels(
    edge.metrics.maxOperationNames,
    deps.knownOperation ?? persisted.knownOperation,
  );

  const clientAddress = clientAddressOf(edge.trustProxy);
  const app = Fastify({
    // Fastify types its own logger interface; at run time it is this pino logger and its children.
    loggerInstance: log as unknown as FastifyBaseLogger,
    // One access-log line of our own (below) instead of Fastify's two per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    genReqId: requestId,
    // request.ip is the client behind the listed proxies (TRUST_PROXY), else the peer.
    trustProxy: clientAddress.trust,
    // The trace id of a valid traceparent is bound into every line of the request's logger.
    childLoggerFactory: (logger, bindings, opts, raw) => {
      const trace = traceId(raw as IncomingMessage);
      return logger.child(trace ? { ...bindings, traceId: trace } : bindings, opts);
    },
    bodyLimit: edge.bodyLimit,
    keepAliveTimeout: edge.keepAliveTimeoutMs,
    requestTimeout: edge.requestTimeoutMs,
    // Node checks the request and headers timeouts on this interval (default 30 s, too coarse).
    http: {
      headersTimeout: Math.min(edge.headersTimeoutMs, edge.requestTimeoutMs),
      requestTimeout: edge.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, edge.headersTimeoutMs / 4)),
    },
    // Idle keep-alive connections are closed at shutdown; in-flight requests are drained (close()).
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  const server = app.server;

  const apollo = new ApolloServer<RequestContext>({
    schema,
    formatError,
    validationRules: rules,
    introspection: !config.production,
    // No "Did you mean ...?" field suggestions for strangers in production.
    hideSchemaDetailsFromClientErrors: config.production,
    // main.ts owns SIGINT/SIGTERM; Apollo's own handler would race it (a concurrent stop() can hang).
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    persistedQueries: persisted.persistedQueries,
    plugins: [
      persisted.plugin,
      // No HTTP cache hints are set; the plugin would still visit every resolved field.
      ApolloServerPluginCacheControlDisabled(),
      config.production
        ? ApolloServerPluginLandingPageDisabled()
        : ApolloServerPluginLandingPageLocalDefault({ footer: false }),
      operationMetricsPlugin(config, metrics, labels),
      services.protection.plugin(schema),
      // Outages (database unreachable, frozen, read-only, timeouts) answer 503 + Retry-After.
      serviceUnavailablePlugin(config.readiness.retryAfterSeconds),
      ...(deps.plugins ?? []),
      // Last, so it sees the final status and errors: public catalog GETs may be cached (http-cache.ts).
      httpCachePlugin(schema, config.httpCache.publicMaxAgeSeconds),
    ],
  });
  await apollo.start();

  const principalFrom = async (authorization: string | undefined | null): Promise<Principal | null> => {
    if (!authorization) return null;
    const p = await services.tokens.fromHeader(authorization);
    if (!p) throw invalidToken();
    return p;
  };

  app.addHook('onRequest', async (request, reply) => {
    // On the raw response too, so routes that write their own response (webhooks) carry it.
    reply.raw.setHeader('x-request-id', request.id);
  });
  // The access log: one structured line per request, on the request's logger (reqId, traceId).
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const line = {
      method: request.method,
      ip: request.ip,
      route: request.routeOptions.url ?? 'unknown',
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      operation: request.graphql?.operationName,
      outcome: request.graphql?.outcome,
    };
    metrics.duration.observe({ route: request.routeOptions.url ?? 'unknown' }, reply.elapsedTime / 1000);
    if (status >= 500) request.log.error(line, 'request');
    else request.log.info(line, 'request');
  });

  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: 'Not found' });
  });
  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    // An outage met before Apollo runs (the caller's token state, a partner key): the same 503 as
    // inside an operation (src/server/errors.ts), so clients retry instead of reporting a defect.
    const outage = status >= 500 ? unavailableReason(error) : null;
    if (outage) {
      return reply
        .code(503)
        .header('retry-after', String(config.readiness.retryAfterSeconds))
        .header('cache-control', 'no-store')
        .send({ errors: [unavailableError(outage)] });
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'unhandled HTTP error');
      return reply.code(500).send(errorBody('Internal server error', 'INTERNAL_SERVER_ERROR'));
    }
    const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 408 ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
    return reply.code(status).send(errorBody(error.message, code));
  });

  await app.register(fastifyCors, corsOptions(edge.corsOrigins, CORS_ALLOWED_HEADERS));
  await app.register(fastifyCompress, { global: true, encodings: ['br', 'gzip'] });

  // /graphql in its own scope: its own body parsers, so the webhooks keep their raw bodies.
  const apolloHandler = fastifyApolloHandler(apollo, {
    context: async (request: FastifyRequest) => {
      const principal =
        request.principal !== undefined
          ? request.principal
          : await principalFrom(request.headers.authorization);
      const note: OperationNote = {};
      request.graphql = note;
      return {
        ...createContext(orm.em as any, principal, services, config, request.log as unknown as Logger),
        sql: sqlCounterStorage.getStore() ?? { statements: 0 },
        note,
        clientIp: request.ip,
      };
    },
  });
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // An empty body is Apollo's to refuse ("POST body missing"); malformed JSON is ours.
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
      if (!text) return done(null, undefined);
      try {
        done(null, JSON.parse(text as string));
      } catch {
        done(Object.assign(new Error('Malformed JSON body'), { statusCode: 400 }), undefined);
      }
    });
    // Other content types reach Apollo as text, and its CSRF prevention refuses them (400).
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, text, done) => done(null, text));
    scope.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url: '/graphql',
      handler: async (request, reply) => {
        // Persisted documents: the caller, and the request to run in place of the one sent.
        const search = request.raw.url?.includes('?')
          ? request.raw.url.slice(request.raw.url.indexOf('?'))
          : '';
        const prepared = await persisted.prepare({ method: request.method, body: request.body, search }, () =>
          principalFrom(request.headers.authorization),
        );
        if (!prepared.ok)
          return reply
            .code(prepared.error.status)
            .header('cache-control', 'no-store')
            .send(persistedErrorBody(prepared.error));
        request.principal = prepared.principal;
        request.body = prepared.request.body;
        // The Apollo integration reads GET parameters from the URL.
        if (prepared.request.search !== search) request.raw.url = `/graphql${prepared.request.search}`;
        const counter: SqlCounter = { statements: 0 };
        const answer = await requestLogStorage.run(request.log as unknown as Logger, () =>
          sqlCounterStorage.run(counter, () => apolloHandler.call(scope, request as any, reply as any)),
        );
        // Public catalog answers: Vary: Authorization, and 304 for a matching If-None-Match.
        return finishPublicAnswer(request.headers['if-none-match'], reply, answer);
      },
    });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  // Bounded; 503 when the database is unreachable, slow, read-only or in recovery, or the pool is full.
  const readiness = readinessChecker(orm, config.readiness);
  app.get('/readyz', async (_request, reply) => {
    const r = await readiness();
    return reply
      .code(r.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send(r);
  });
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (edge.metrics.port === undefined) app.get('/metrics', metricsHandler(metrics, edge.metrics.token));
  else metricsServer = await startMetricsServer(metrics, edge.metrics.port, edge.metrics.token);

  // Routes that read their own raw body (signatures cover the exact bytes): Fastify leaves the
  // stream unread and hands over the raw request and response.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    for (const [path, handle] of Object.entries(extraRoutes)) {
      scope.all(path, async (request, reply) => {
        reply.hijack();
        try {
          await handle(request.raw, reply.raw);
        } catch (err) {
          request.log.error({ err }, 'unhandled HTTP error');
          if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
          reply.raw.end(JSON.stringify({ error: 'Internal server error' }));
        }
      });
    }
  });

  const ws = attachGraphqlWs(server, {
    config,
    orm,
    schema,
    services,
    log,
    rules,
    formatError,
    principalFrom,
    clientAddress,
    persisted,
  });

  await listen(app, config.port);
  const port = (server.address() as { port: number }).port;

  return {
    server,
    port,
    metricsPort: metricsServer?.port,
    fastify: app,
    async close() {
      await ws.close();
      // Stop accepting, close idle keep-alive connections, let in-flight requests finish for a while.
      const force = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
      await apollo.stop();
      await metricsServer?.close();
      await persisted.close();
    },
  };
}
