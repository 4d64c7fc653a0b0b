"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.createMetrics = createMetrics;
const prom_client_1 = require("prom-client");
/** Prometheus metrics served at GET /metrics. */
function createMetrics() {
    const registry = new prom_client_1.Registry();
    (0, prom_client_1.collectDefaultMetrics)({ register: registry });
    return {
        registry,
        requests: new prom_client_1.Counter({
            name: 'graphql_operations_total',
            help: 'GraphQL operations by name and outcome',
            labelNames: ['operation', 'outcome'],
            registers: [registry],
        }),
        duration: new prom_client_1.Histogram({
            name: 'http_request_duration_seconds',
            help: 'HTTP request duration',
            labelNames: ['route'],
            buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
            registers: [registry],
        }),
        sqlStatements: new prom_client_1.Histogram({
            name: 'graphql_sql_statements',
            help: 'SQL statements per GraphQL operation',
            buckets: [0, 1, 2, 3, 5, 8, 13, 21, 34, 55],
            registers: [registry],
        }),
    };
}
//# sourceMappingURL=metrics.js.map