"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ormConfig = ormConfig;
exports.connectOrm = connectOrm;
exports.migrate = migrate;
const core_1 = require("@mikro-orm/core");
const migrations_1 = require("@mikro-orm/migrations");
const postgresql_1 = require("@mikro-orm/postgresql");
const migrations_2 = require("../../migrations");
const entities_1 = require("../modules/entities");
const sql_stats_1 = require("./sql-stats");
function ormConfig(opts) {
    return {
        driver: postgresql_1.PostgreSqlDriver,
        clientUrl: opts.url,
        replicas: (opts.replicaUrls ?? []).map((clientUrl) => ({ clientUrl })),
        entities: entities_1.entities,
        extensions: [migrations_1.Migrator],
        migrations: { migrationsList: migrations_2.migrationsList, transactional: true, allOrNothing: true, snapshot: false },
        allowGlobalContext: false,
        dataloader: core_1.DataloaderType.ALL,
        pool: { min: 1, max: opts.poolSize ?? 10 },
        discovery: { warnWhenNoEntities: true },
        forceUtcTimezone: true,
        logger: opts.logger ?? (() => undefined),
        // Keeps identity-map bookkeeping small for read-heavy requests.
        serialization: { forceObject: true },
    };
}
/** Connects, and counts every statement (primary and replicas) for per-request SQL statistics. */
async function connectOrm(opts) {
    const orm = await core_1.MikroORM.init(ormConfig(opts));
    const driver = orm.em.getDriver();
    driver.getConnection('write').getKnex().on('query', sql_stats_1.countStatement);
    // Replicas are not exposed publicly; they are knex connections like the primary.
    const replicas = driver.replicas;
    for (const replica of replicas)
        replica.getKnex().on('query', sql_stats_1.countStatement);
    return orm;
}
async function migrate(orm) {
    await orm.getMigrator().up();
}
//# sourceMappingURL=orm.js.map