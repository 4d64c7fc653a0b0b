"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEMO_PRODUCTS = void 0;
exports.startApp = startApp;
const node_path_1 = require("node:path");
const pino_1 = __importDefault(require("pino"));
const embedded_1 = require("./db/embedded");
const orm_1 = require("./db/orm");
const sql_1 = require("./db/sql");
const demo_data_1 = require("./modules/catalog/demo-data");
const schema_1 = require("./server/schema");
const http_1 = require("./server/http");
const metrics_1 = require("./server/metrics");
const services_1 = require("./server/services");
exports.DEMO_PRODUCTS = 1200;
/**
 * Starts everything the configuration asks for: the embedded PostgreSQL when no DATABASE_URL is
 * set, migrations, the bootstrap admin, demo data on an empty embedded database, and the server.
 */
async function startApp(config, log = (0, pino_1.default)({ level: config.logLevel })) {
    let embedded;
    let url = config.databaseUrl;
    if (!url) {
        log.info({ dir: (0, node_path_1.join)(config.dataDir, 'pg') }, 'starting embedded PostgreSQL');
        embedded = await (0, embedded_1.startEmbeddedPostgres)((0, node_path_1.join)(config.dataDir, 'pg'), (line) => log.debug({ pg: line }));
        url = embedded.url;
    }
    const orm = await (0, orm_1.connectOrm)({ url, replicaUrls: config.databaseReplicaUrls, poolSize: config.dbPoolSize, logger: (m) => log.info(m.replace(/\x1b\[[0-9;]*m/g, '')) });
    try {
        await (0, orm_1.migrate)(orm);
        const services = (0, services_1.createServices)(config);
        const em = orm.em.fork();
        const admin = await services.identity.ensureAdmin(em, config.adminEmail, config.adminPassword);
        if (admin.password) {
            log.warn(`bootstrap admin created: ${config.adminEmail} / ${admin.password} (shown once; set ADMIN_PASSWORD to choose it)`);
        }
        if (config.demoData) {
            const [{ n }] = await (0, sql_1.sqlAll)(em, 'select count(*)::int as n from product');
            if (n === 0) {
                log.info(`loading the demo catalog (${exports.DEMO_PRODUCTS} products)`);
                const logins = await (0, demo_data_1.generateCatalog)(em, services.identity, { products: exports.DEMO_PRODUCTS });
                log.warn(`demo logins: ${logins.map((l) => `${l.role} ${l.email} / ${l.password}`).join('; ')}`);
            }
        }
        const http = await (0, http_1.startHttp)({ config, orm, schema: (0, schema_1.buildAppSchema)(), services, log, metrics: (0, metrics_1.createMetrics)() });
        const app = {
            config,
            orm,
            services,
            http,
            log,
            url: `http://127.0.0.1:${http.port}/graphql`,
            async stop() {
                await http.close();
                await orm.close();
                await embedded?.stop();
            },
        };
        return app;
    }
    catch (e) {
        await orm.close();
        await embedded?.stop();
        throw e;
    }
}
//# sourceMappingURL=app.js.map