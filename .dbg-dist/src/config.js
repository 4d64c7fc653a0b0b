"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ConfigError = void 0;
exports.loadConfig = loadConfig;
const node_crypto_1 = require("node:crypto");
const node_fs_1 = require("node:fs");
const node_path_1 = require("node:path");
class ConfigError extends Error {
    constructor(variable, problem) {
        super(`Invalid configuration: ${variable} ${problem}`);
    }
}
exports.ConfigError = ConfigError;
function str(env, name) {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
}
function int(env, name, fallback, min, max) {
    const raw = str(env, name);
    if (raw === undefined)
        return fallback;
    if (!/^-?\d+$/.test(raw))
        throw new ConfigError(name, `must be an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max)
        throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
    return n;
}
function bool(env, name, fallback) {
    const raw = str(env, name);
    if (raw === undefined)
        return fallback;
    if (/^(1|true|yes|on)$/i.test(raw))
        return true;
    if (/^(0|false|no|off)$/i.test(raw))
        return false;
    throw new ConfigError(name, `must be true or false, got "${raw}"`);
}
function url(env, name, protocols) {
    const raw = str(env, name);
    if (raw === undefined)
        return undefined;
    let parsed;
    try {
        parsed = new URL(raw);
    }
    catch {
        throw new ConfigError(name, 'is not a valid URL');
    }
    if (!protocols.includes(parsed.protocol)) {
        throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
    }
    return raw;
}
/**
 * Secrets that are unset are generated once and kept in DATA_DIR, so tokens and webhook signatures
 * stay valid across restarts of the embedded default. Production must set them explicitly.
 */
function secret(env, name, production, dataDir) {
    const raw = str(env, name);
    if (raw !== undefined) {
        if (raw.length < 16)
            throw new ConfigError(name, 'must be at least 16 characters');
        return raw;
    }
    if (production)
        throw new ConfigError(name, 'is required when NODE_ENV=production');
    const file = (0, node_path_1.join)(dataDir, 'secrets.json');
    const stored = (0, node_fs_1.existsSync)(file) ? JSON.parse((0, node_fs_1.readFileSync)(file, 'utf8')) : {};
    if (!stored[name]) {
        stored[name] = (0, node_crypto_1.randomBytes)(32).toString('hex');
        (0, node_fs_1.mkdirSync)(dataDir, { recursive: true });
        (0, node_fs_1.writeFileSync)(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
    }
    return stored[name];
}
function loadConfig(env = process.env) {
    const nodeEnv = str(env, 'NODE_ENV') ?? 'development';
    const production = nodeEnv === 'production';
    const dataDir = (0, node_path_1.resolve)(str(env, 'DATA_DIR') ?? '.data');
    const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
    const replicas = (str(env, 'DATABASE_REPLICA_URLS') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    replicas.forEach((r, i) => url({ [`DATABASE_REPLICA_URLS[${i}]`]: r }, `DATABASE_REPLICA_URLS[${i}]`, ['postgres:', 'postgresql:']));
    if (production && !databaseUrl)
        throw new ConfigError('DATABASE_URL', 'is required when NODE_ENV=production');
    const adminEmail = str(env, 'ADMIN_EMAIL') ?? 'admin@example.com';
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(adminEmail))
        throw new ConfigError('ADMIN_EMAIL', 'is not an email address');
    const adminPassword = str(env, 'ADMIN_PASSWORD');
    if (adminPassword !== undefined && adminPassword.length < 8) {
        throw new ConfigError('ADMIN_PASSWORD', 'must be at least 8 characters');
    }
    const currency = str(env, 'CURRENCY') ?? 'USD';
    if (!/^[A-Z]{3}$/.test(currency))
        throw new ConfigError('CURRENCY', 'must be an ISO 4217 code such as USD');
    const logLevel = str(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'warn' : 'info');
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
        throw new ConfigError('LOG_LEVEL', `must be one of fatal, error, warn, info, debug, trace, silent`);
    }
    return {
        nodeEnv,
        production,
        port: int(env, 'PORT', 4000, 0, 65535),
        databaseUrl,
        databaseReplicaUrls: replicas,
        redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
        dataDir,
        adminEmail,
        adminPassword,
        jwtSecret: secret(env, 'JWT_SECRET', production, dataDir),
        tokenTtlSeconds: int(env, 'TOKEN_TTL_SECONDS', 7 * 24 * 3600, 60, 90 * 24 * 3600),
        paymentWebhookSecret: secret(env, 'PAYMENT_WEBHOOK_SECRET', production, dataDir),
        logisticsWebhookSecret: secret(env, 'LOGISTICS_WEBHOOK_SECRET', production, dataDir),
        paymentWindowSeconds: int(env, 'PAYMENT_WINDOW_SECONDS', 1800, 10, 7 * 24 * 3600),
        logLevel,
        currency,
        lowStockThreshold: int(env, 'LOW_STOCK_THRESHOLD', 5, 0, 1_000_000),
        demoData: bool(env, 'DEMO_DATA', !databaseUrl),
        dbPoolSize: int(env, 'DB_POOL_SIZE', 10, 1, 200),
        searchCacheTtlMs: int(env, 'SEARCH_CACHE_TTL_MS', 5000, 0, 3_600_000),
        limits: {
            maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 10, 2, 100),
            maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 1000),
            maxCost: int(env, 'GRAPHQL_MAX_COST', 5000, 10, 1_000_000),
            maxPageSize: int(env, 'MAX_PAGE_SIZE', 100, 1, 1000),
        },
        exposeSqlStats: bool(env, 'EXPOSE_SQL_STATS', !production),
    };
}
//# sourceMappingURL=config.js.map