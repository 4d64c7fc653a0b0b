"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
const node_child_process_1 = require("node:child_process");
const node_fs_1 = require("node:fs");
const node_path_1 = require("node:path");
const pg_1 = require("pg");
const embedded_1 = require("../src/db/embedded");
const search_queries_1 = require("./search-queries");
// autocannon ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');
/**
 * `npm run bench`: each benchmark against a baseline measured in the same run on the same machine.
 *
 * Env: BENCH_PRODUCTS (100000), BENCH_DURATION seconds per run (15), BENCH_CONNECTIONS (20),
 * BENCH_DATABASE_URL (else an embedded PostgreSQL in .data/bench, seeded once and reused).
 */
const ROOT = (0, node_path_1.join)(__dirname, '..', '..');
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 100_000);
const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
function startChild(script, env) {
    const child = (0, node_child_process_1.spawn)(process.execPath, [(0, node_path_1.join)(ROOT, script)], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr.on('data', (d) => process.stderr.write(`[${script}] ${d}`));
    return child;
}
async function waitFor(url, body, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        try {
            const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
            if (r.ok)
                return;
        }
        catch {
            /* not up yet */
        }
        await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${url} did not come up`);
}
async function post(url, body) {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return r.json();
}
/** Peak resident memory of a process, from the kernel. */
const peakRssMb = (pid) => {
    const m = /VmHWM:\s+(\d+) kB/.exec((0, node_fs_1.readFileSync)(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
};
async function load(name, url, bodies, pid, duration = DURATION) {
    let i = 0;
    const result = await autocannon({
        url,
        connections: CONNECTIONS,
        duration,
        requests: [
            {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }),
            },
        ],
    });
    // Statements per request as the server reports them, right after the load (warm caches).
    const samples = await Promise.all(bodies.map((b) => post(url, b)));
    const sqlPerRequest = samples.reduce((s, r) => s + (r.extensions?.sqlStatements ?? NaN), 0) / samples.length;
    return {
        name,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx + result.timeouts,
        sqlPerRequest,
        peakRssMb: peakRssMb(pid),
    };
}
async function ensureCatalog() {
    let url = process.env.BENCH_DATABASE_URL;
    let stop = async () => undefined;
    if (!url) {
        const dir = (0, node_path_1.join)(ROOT, '.data', 'bench');
        (0, node_fs_1.mkdirSync)(dir, { recursive: true });
        (0, node_fs_1.chmodSync)(dir, 0o755);
        const db = await (0, embedded_1.startEmbeddedPostgres)((0, node_path_1.join)(dir, 'pg'));
        url = db.url;
        stop = db.stop;
    }
    const c = new pg_1.Client({ connectionString: url });
    await c.connect();
    const has = await c.query(`select to_regclass('product') is not null as ok`);
    const count = has.rows[0].ok ? (await c.query('select count(*)::int as n from product')).rows[0].n : 0;
    await c.end();
    if (count < PRODUCTS) {
        console.log(`seeding ${PRODUCTS - count} products (once; reused by later runs)...`);
        await new Promise((resolve, reject) => {
            const seed = (0, node_child_process_1.spawn)(process.execPath, [(0, node_path_1.join)(ROOT, 'dist/scripts/seed.js'), '--products', String(PRODUCTS - count)], {
                env: { ...process.env, DATABASE_URL: url },
                stdio: 'inherit',
            });
            seed.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed exited ${code}`))));
        });
    }
    return { url: url, stop };
}
function table(rows, baseline) {
    console.log('\n| server | req/s | ratio to baseline | p50 ms | p99 ms | SQL/request | peak RSS MB | errors |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
        console.log(`| ${r.name} | ${r.rps.toFixed(0)} | ${(r.rps / baseline.rps).toFixed(2)} | ${r.p50} | ${r.p99} | ${r.sqlPerRequest} | ${r.peakRssMb.toFixed(0)} | ${r.errors} |`);
    }
}
async function main() {
    if (!(0, node_fs_1.existsSync)((0, node_path_1.join)(ROOT, 'dist/scripts/seed.js')))
        throw new Error('run `npm run build` first');
    const db = await ensureCatalog();
    const children = [];
    try {
        const [basePort, appPort, cachedPort] = [await (0, embedded_1.freePort)(), await (0, embedded_1.freePort)(), await (0, embedded_1.freePort)()];
        const baseline = startChild('dist/bench/baseline-server.js', { DATABASE_URL: db.url, PORT: String(basePort) });
        const appEnv = (port, cacheTtlMs) => ({
            DATABASE_URL: db.url,
            PORT: String(port),
            DEMO_DATA: 'false',
            EXPOSE_SQL_STATS: 'true',
            LOG_LEVEL: 'warn',
            NODE_ENV: 'development',
            DATA_DIR: (0, node_path_1.join)(ROOT, '.data', 'bench'),
            SEARCH_CACHE_TTL_MS: String(cacheTtlMs),
        });
        // The same SQL as the baseline on every request, and the default with the 5 s search cache.
        const app = startChild('dist/src/main.js', appEnv(appPort, 0));
        const cached = startChild('dist/src/main.js', appEnv(cachedPort, 5000));
        children.push(baseline, app, cached);
        const baseUrl = `http://127.0.0.1:${basePort}/graphql`;
        const appUrl = `http://127.0.0.1:${appPort}/graphql`;
        const cachedUrl = `http://127.0.0.1:${cachedPort}/graphql`;
        await Promise.all([baseUrl, appUrl, cachedUrl].map((u) => waitFor(u, search_queries_1.SEARCH_BODIES[0])));
        // All servers must give the same answers before their speed is compared.
        for (const body of search_queries_1.SEARCH_BODIES) {
            const [a, b, c] = await Promise.all([post(appUrl, body), post(baseUrl, body), post(cachedUrl, body)]);
            const pick = (r) => JSON.stringify({ total: r.data?.products.totalCount, facets: r.data?.products.facets, ids: r.data?.products.edges.map((e) => e.node.id) });
            if (pick(a) !== pick(b) || pick(c) !== pick(b))
                throw new Error(`answers differ for ${body}:\n${pick(a)}\n${pick(b)}`);
        }
        const sample = await post(appUrl, search_queries_1.SEARCH_BODIES[0]);
        console.log(`catalog: ${PRODUCTS} products; sample search totalCount ${sample.data.products.totalCount}`);
        console.log(`faceted full-text search, ${CONNECTIONS} connections, ${DURATION} s each, ${search_queries_1.SEARCH_BODIES.length} distinct queries`);
        // Warm both (caches, JIT), then measure the baseline first and the application second.
        await load('warmup', baseUrl, search_queries_1.SEARCH_BODIES, baseline.pid, 3);
        await load('warmup', appUrl, search_queries_1.SEARCH_BODIES, app.pid, 3);
        await load('warmup', cachedUrl, search_queries_1.SEARCH_BODIES, cached.pid, 3);
        const base = await load('baseline: node:http + pg + graphql-js, same SQL', baseUrl, search_queries_1.SEARCH_BODIES, baseline.pid);
        const ours = await load('this server, search cache off (same SQL every request)', appUrl, search_queries_1.SEARCH_BODIES, app.pid);
        const oursCached = await load('this server, default 5 s search cache', cachedUrl, search_queries_1.SEARCH_BODIES, cached.pid);
        table([base, ours, oursCached], base);
    }
    finally {
        for (const c of children)
            c.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 1000));
        await db.stop();
    }
}
main().catch((e) => {
    console.error(e);
    process.exit(1);
});
//# sourceMappingURL=run.js.map