import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { GraphQLSchema } from 'graphql';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../src/config';
import { sqlCounterStorage, type SqlCounter } from '../src/db/sql-stats';
import type { Principal } from '../src/shared/auth';
import { createContext, type Context } from '../src/server/context';
import { makeFormatError } from '../src/server/errors';
import { limitRules } from '../src/server/limits';
import type { Metrics } from '../src/server/metrics';
import type { Services } from '../src/server/services';

/**
 * The edge as it was before Fastify (commit 30c929e, src/server/http.ts): a hand-written node:http
 * router in front of Apollo. Kept here only as the baseline of bench/edge.ts; only POST/GET
 * /graphql, the part the benchmark measures.
 */

type RequestContext = Context & { sql: SqlCounter };

const MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('Request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

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

export interface LegacyDeps {
  config: Config;
  orm: MikroORM;
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  metrics: Metrics;
}

export async function startLegacyEdge(deps: LegacyDeps, port: number) {
  const { config, orm, schema, services, log, metrics } = deps;
  const server = createServer();
  const apollo = new ApolloServer<RequestContext>({
    schema,
    formatError: makeFormatError(log),
    validationRules: limitRules(config.limits),
    introspection: !config.production,
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: false,
    plugins: [ApolloServerPluginCacheControlDisabled(), sqlStatsPlugin(config, metrics)],
  });
  await apollo.start();

  const principalFrom = async (authorization: string | undefined): Promise<Principal | null> =>
    authorization ? services.tokens.fromHeader(authorization) : null;

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL) {
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const raw = await readBody(req);
      body = (req.headers['content-type'] ?? '').includes('application/json') && raw ? JSON.parse(raw) : raw;
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
          return { ...createContext(orm.em as any, principal, services, config, log), sql: counter };
        },
      }),
    );
    const outHeaders: Record<string, string> = {};
    for (const [k, v] of result.headers) outHeaders[k] = v;
    res.writeHead(result.status ?? 200, outHeaders);
    if (result.body.kind === 'complete') res.end(result.body.string);
    else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const end = metrics.duration.startTimer({ route: url.pathname === '/graphql' ? '/graphql' : 'unknown' });
    if (url.pathname !== '/graphql') {
      res.writeHead(404).end();
      end();
      return;
    }
    handleGraphQL(req, res, url)
      .catch((err: unknown) => {
        log.error({ err }, 'unhandled HTTP error');
        if (!res.headersSent) res.writeHead(500).end();
        else res.end();
      })
      .finally(end);
  });
  await new Promise<void>((resolve) => server.listen({ port, backlog: 4096 }, () => resolve()));
  return {
    async close() {
      await apollo.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
