"use strict";
var __importDefault = (this && this.__importDefault) || function (mod) {
    return (mod && mod.__esModule) ? mod : { "default": mod };
};
Object.defineProperty(exports, "__esModule", { value: true });
require("reflect-metadata");
const pino_1 = __importDefault(require("pino"));
const app_1 = require("./app");
const config_1 = require("./config");
async function main() {
    let config;
    try {
        config = (0, config_1.loadConfig)();
    }
    catch (e) {
        if (e instanceof config_1.ConfigError) {
            console.error(e.message);
            process.exit(2);
        }
        throw e;
    }
    const log = (0, pino_1.default)({ level: config.logLevel });
    const app = await (0, app_1.startApp)(config, log);
    log.info(`GraphQL at ${app.url} (WebSocket: ${app.url.replace('http', 'ws')})`);
    let stopping = false;
    const shutdown = async (signal) => {
        if (stopping)
            return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        // A stuck drain must not keep the process (and the embedded database) alive forever.
        const force = setTimeout(() => process.exit(1), 15_000);
        force.unref();
        try {
            await app.stop();
            process.exit(0);
        }
        catch (err) {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
        }
    };
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
main().catch((err) => {
    console.error(err);
    process.exit(1);
});
//# sourceMappingURL=main.js.map