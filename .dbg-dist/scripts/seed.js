"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
require("reflect-metadata");
const node_path_1 = require("node:path");
const config_1 = require("../src/config");
const embedded_1 = require("../src/db/embedded");
const orm_1 = require("../src/db/orm");
const demo_data_1 = require("../src/modules/catalog/demo-data");
const services_1 = require("../src/server/services");
/**
 * Generates a large catalog for benchmarks: `npm run seed -- --products 100000`.
 * Uses DATABASE_URL, or the embedded database in DATA_DIR like `npm start`.
 */
async function main() {
    const arg = process.argv.indexOf('--products');
    const products = arg > 0 ? Number(process.argv[arg + 1]) : 100_000;
    if (!Number.isInteger(products) || products < 1)
        throw new Error('--products must be a positive integer');
    const config = (0, config_1.loadConfig)();
    const embedded = config.databaseUrl ? undefined : await (0, embedded_1.startEmbeddedPostgres)((0, node_path_1.join)(config.dataDir, 'pg'));
    const orm = await (0, orm_1.connectOrm)({ url: config.databaseUrl ?? embedded.url });
    try {
        await (0, orm_1.migrate)(orm);
        const started = Date.now();
        const logins = await (0, demo_data_1.generateCatalog)(orm.em.fork(), (0, services_1.createServices)(config).identity, {
            products,
            onProgress: (done) => process.stdout.write(`\r${done}/${products} products`),
        });
        console.log(`\nseeded ${products} products in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        for (const l of logins)
            console.log(`${l.role}: ${l.email} / ${l.password}`);
    }
    finally {
        await orm.close();
        await embedded?.stop();
    }
}
main().catch((e) => {
    console.error(e);
    process.exit(1);
});
//# sourceMappingURL=seed.js.map