"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.startHttp = startHttp;
const server_1 = require("@apollo/server");
const drainHttpServer_1 = require("@apollo/server/plugin/drainHttpServer");
const disabled_1 = require("@apollo/server/plugin/disabled");
const default_1 = require("@apollo/server/plugin/landingPage/default");
const graphql_1 = require("graphql");
const ws_1 = require("graphql-ws/use/ws");
const node_http_1 = require("node:http");
const ws_2 = require("ws");
const sql_stats_1 = require("../db/sql-stats");
const context_1 = require("./context");
const errors_1 = require("./errors");
const limits_1 = require("./limits");
const MAX_BODY = 1024 * 1024;
class HttpError extends Error {
    status;
    code;
    constructor(status, message, code = 'BAD_REQUEST') {
        super(message);
        this.status = status;
        this.code = code;
    }
}
function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        req.on('data', (c) => {
            size += c.length;
            if (size > MAX_BODY) {
                reject(new HttpError(413, 'Request body too large'));
                req.destroy();
            }
            else
                chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        req.on('error', reject);
    });
}
function sendJson(res, status, body, headers = {}) {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
}
const invalidToken = () => new graphql_1.GraphQLError('Invalid or expired token', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
/** Reports SQL statements per operation (tests and benchmarks read it) and feeds metrics. */
function sqlStatsPlugin(config, metrics) {
    return {
        async requestDidStart() {
            return {
                async willSendResponse({ contextValue, response, operationName, errors }) {
                    metrics.sqlStatements.observe(contextValue.sql.statements);
                    metrics.requests.inc({ operation: operationName ?? 'anonymous', outcome: errors?.length ? 'error' : 'ok' });
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
async function startHttp(deps, extraRoutes = {}) {
    const { config, orm, schema, services, log, metrics } = deps;
    const server = (0, node_http_1.createServer)();
    const rules = (0, limits_1.limitRules)(config.limits);
    const formatError = (0, errors_1.makeFormatError)(log);
    const apollo = new server_1.ApolloServer({
        schema,
        formatError,
        validationRules: rules,
        introspection: !config.production,
        csrfPrevention: true,
        includeStacktraceInErrorResponses: false,
        plugins: [
            (0, drainHttpServer_1.ApolloServerPluginDrainHttpServer)({ httpServer: server }),
            config.production ? (0, disabled_1.ApolloServerPluginLandingPageDisabled)() : (0, default_1.ApolloServerPluginLandingPageLocalDefault)({ footer: false }),
            sqlStatsPlugin(config, metrics),
        ],
    });
    await apollo.start();
    const principalFrom = async (authorization) => {
        if (!authorization)
            return null;
        const p = await services.tokens.fromHeader(authorization);
        if (!p)
            throw invalidToken();
        return p;
    };
    async function handleGraphQL(req, res, url) {
        let body = undefined;
        if (req.method === 'POST') {
            const raw = await readBody(req);
            if ((req.headers['content-type'] ?? '').includes('application/json')) {
                try {
                    body = raw ? JSON.parse(raw) : undefined;
                }
                catch {
                    throw new HttpError(400, 'Malformed JSON body');
                }
            }
            else
                body = raw;
        }
        const headers = new server_1.HeaderMap();
        for (const [k, v] of Object.entries(req.headers)) {
            if (v !== undefined)
                headers.set(k, Array.isArray(v) ? v.join(', ') : v);
        }
        const counter = { statements: 0 };
        const result = await sql_stats_1.sqlCounterStorage.run(counter, () => apollo.executeHTTPGraphQLRequest({
            httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
            context: async () => {
                const principal = await principalFrom(req.headers.authorization);
                return { ...(0, context_1.createContext)(orm.em, principal, services, config), sql: counter };
            },
        }));
        const outHeaders = {};
        for (const [k, v] of result.headers)
            outHeaders[k] = v;
        res.writeHead(result.status ?? 200, outHeaders);
        if (result.body.kind === 'complete') {
            res.end(result.body.string);
        }
        else {
            for await (const chunk of result.body.asyncIterator)
                res.write(chunk);
            res.end();
        }
    }
    const routes = {
        '/graphql': handleGraphQL,
        '/healthz': async (_req, res) => sendJson(res, 200, { status: 'ok' }),
        '/readyz': async (_req, res) => {
            try {
                await orm.em.getConnection().execute('select 1');
                sendJson(res, 200, { status: 'ready' });
            }
            catch {
                sendJson(res, 503, { status: 'database unreachable' });
            }
        },
        '/metrics': async (_req, res) => {
            res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
            res.end(await deps.metrics.registry.metrics());
        },
        ...extraRoutes,
    };
    server.on('request', (req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : undefined;
        const end = metrics.duration.startTimer({ route: route ? url.pathname : 'unknown' });
        if (!route) {
            sendJson(res, 404, { error: 'Not found' });
            end();
            return;
        }
        route(req, res, url)
            .catch((err) => {
            if (err instanceof HttpError) {
                if (!res.headersSent)
                    sendJson(res, err.status, { errors: [{ message: err.message, extensions: { code: err.code } }] });
            }
            else {
                log.error({ err }, 'unhandled HTTP error');
                if (!res.headersSent)
                    sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
                else
                    res.end();
            }
        })
            .finally(end);
    });
    // graphql-ws on the same path; the same limits; the token comes in connection_init.
    const wss = new ws_2.WebSocketServer({ server, path: '/graphql' });
    const ws = (0, ws_1.useServer)({
        schema,
        validate: (s, doc) => (0, graphql_1.validate)(s, doc, [...graphql_1.specifiedRules, ...rules]),
        onConnect: async (ctx) => {
            const auth = ctx.connectionParams?.authorization;
            try {
                const principal = await principalFrom(typeof auth === 'string' ? auth : null);
                ctx.extra.principal = principal;
                const expiresAt = principal?.expiresAt;
                if (expiresAt) {
                    // A socket lives no longer than its token.
                    ctx.extra.expiryTimer = setTimeout(() => ctx.extra.socket.close(4403, 'Token expired'), Math.max(0, expiresAt - Date.now()));
                }
                return true;
            }
            catch {
                return false; // graphql-ws closes with 4403 Forbidden
            }
        },
        onClose: (ctx) => clearTimeout(ctx.extra.expiryTimer),
        context: (ctx) => (0, context_1.createContext)(orm.em, ctx.extra.principal ?? null, services, config),
        onNext: (_ctx, _id, _payload, _args, result) => {
            if (!result.errors?.length)
                return;
            return {
                ...result,
                errors: result.errors.map((e) => formatError(e.toJSON(), e)),
            };
        },
    }, wss);
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, () => resolve());
    });
    const port = server.address().port;
    return {
        server,
        port,
        async close() {
            const T=Date.now(); console.error('close start', wss.clients.size, apollo.internals.state.phase);
            await ws.dispose(); console.error('disposed', Date.now()-T);
            await new Promise((r) => wss.close(() => r())); console.error('wss closed', Date.now()-T);
            const iv=setInterval(()=>server.getConnections((e,n)=>console.error('conns',n, apollo.internals.state.phase, server.listening, Date.now()-T)),1000);
            console.error('before apollo.stop', apollo.internals.state.phase); await apollo.stop(); clearInterval(iv); console.error('apollo stopped', Date.now()-T);
        },
    };
}
//# sourceMappingURL=http.js.map