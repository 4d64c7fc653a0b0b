import proxyAddr from '@fastify/proxy-addr';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, type Env, int, str, url } from './parse';

/** The HTTP edge (docs/http.md). */
export interface EdgeConfig {
  /** Browser origins allowed by CORS (CORS_ORIGINS, comma-separated); `*` any origin (refused in production). */
  corsOrigins: string[] | '*';
  /**
   * Proxies whose X-Forwarded-For is believed (TRUST_PROXY: addresses, CIDRs, or loopback /
   * linklocal / uniquelocal), so client addresses (logs, WebSocket caps per IP) are the real ones.
   */
  trustProxy: string[];
  /** Largest request body (HTTP_BODY_LIMIT_BYTES); larger is a 413. */
  bodyLimit: number;
  /** Time to receive the request headers, the whole request (a slow body is cut off), and idle keep-alive. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  ws: {
    maxConnectionsPerIp: number;
    maxConnectionsPerUser: number;
    maxSubscriptionsPerSocket: number;
    /** A socket that has not sent connection_init by then is closed (4408). */
    initTimeoutMs: number;
    maxPayloadBytes: number;
  };
  metrics: {
    /** Bearer token required by GET /metrics (METRICS_TOKEN). */
    token?: string;
    /** Serve /metrics on this port only, not on the API port (METRICS_PORT). */
    port?: number;
    /** Distinct operation names used as labels before the rest are counted as `other`. */
    maxOperationNames: number;
  };
}

/** Edge variables; production must not allow any origin (and must not leave /metrics open: loadConfig). */
export function edgeConfig(env: Env, production: boolean): EdgeConfig {
  const origins = (str(env, 'CORS_ORIGINS') ?? '')
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  let corsOrigins: EdgeConfig['corsOrigins'] = origins;
  if (origins.includes('*')) {
    if (production)
      throw new ConfigError('CORS_ORIGINS', 'must list origins when NODE_ENV=production, not *');
    corsOrigins = '*';
  } else {
    origins.forEach((o, i) => {
      const parsed = url({ [`CORS_ORIGINS[${i}]`]: o }, `CORS_ORIGINS[${i}]`, ['http:', 'https:'])!;
      if (new URL(parsed).origin !== o)
        throw new ConfigError(`CORS_ORIGINS[${i}]`, `must be an origin such as https://shop.example.com`);
    });
  }
  const trustProxy = (str(env, 'TRUST_PROXY') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  try {
    proxyAddr.compile(trustProxy);
  } catch (e) {
    throw new ConfigError('TRUST_PROXY', `must list addresses or CIDRs: ${(e as Error).message}`);
  }
  const token = str(env, 'METRICS_TOKEN');
  if (token !== undefined && token.length < 16)
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');
  const metricsPort =
    str(env, 'METRICS_PORT') === undefined ? undefined : int(env, 'METRICS_PORT', 0, 0, 65535);
  return {
    corsOrigins,
    trustProxy,
    bodyLimit: int(env, 'HTTP_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    headersTimeoutMs: int(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 120_000),
    requestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
    keepAliveTimeoutMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 65_000, 100, 600_000),
    ws: {
      maxConnectionsPerIp: int(env, 'WS_MAX_CONNECTIONS_PER_IP', 100, 1, 1_000_000),
      maxConnectionsPerUser: int(env, 'WS_MAX_CONNECTIONS_PER_USER', 20, 1, 100_000),
      maxSubscriptionsPerSocket: int(env, 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET', 25, 1, 10_000),
      initTimeoutMs: int(env, 'WS_INIT_TIMEOUT_MS', 5_000, 100, 60_000),
      maxPayloadBytes: int(env, 'WS_MAX_PAYLOAD_BYTES', 128 * 1024, 1024, 16 * 1024 * 1024),
    },
    metrics: {
      token,
      port: metricsPort,
      maxOperationNames: int(env, 'METRICS_MAX_OPERATION_NAMES', 100, 0, 10_000),
    },
  };
}

/** Web origins and app-link schemes a payment may return the shopper to. */
export function storefrontOrigins(env: Env, production: boolean): string[] {
  // STOREFRONT_ORIGINS is checked strictly. CORS_ORIGINS belongs to the HTTP edge and may hold
  // forms of its own: from it, only plain origins (and "*" outside production) are taken.
  const strict = str(env, 'STOREFRONT_ORIGINS') !== undefined;
  const name = strict ? 'STOREFRONT_ORIGINS' : 'CORS_ORIGINS';
  const list = (str(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const parse = (entry: string): string => {
    if (entry === '*') {
      if (production) throw new ConfigError(name, 'must list origins ("*" is refused in production)');
      return entry;
    }
    // An app link: a scheme alone, such as "myapp://".
    if (/^[a-z][a-z0-9+.-]*:\/\/$/i.test(entry) && !/^https?:/i.test(entry)) return entry.toLowerCase();
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(
        name,
        `has "${entry}", which is neither an origin nor an app scheme such as "myapp://"`,
      );
    }
    if (
      (url.protocol !== 'http:' && url.protocol !== 'https:') ||
      url.hostname.includes('*') ||
      url.origin !== entry.replace(/\/+$/, '').toLowerCase()
    ) {
      throw new ConfigError(
        name,
        `has "${entry}"; list origins such as "https://shop.example.com" (no path)`,
      );
    }
    return url.origin;
  };
  if (strict) return list.map(parse);
  return list.flatMap((entry) => {
    try {
      return [parse(entry)];
    } catch {
      return [];
    }
  });
}

/** Persisted documents: TRUSTED_DOCUMENTS, its manifest, and how long APQ entries live. */
export interface TrustedDocumentsConfig {
  enforce: boolean;
  manifestPath?: string;
  apqTtlSeconds: number;
}

export function trustedDocuments(env: Env): TrustedDocumentsConfig {
  const mode = (str(env, 'TRUSTED_DOCUMENTS') ?? 'off').toLowerCase();
  if (mode !== 'off' && mode !== 'enforce')
    throw new ConfigError('TRUSTED_DOCUMENTS', `must be off or enforce, got "${mode}"`);
  const manifestPath = str(env, 'TRUSTED_DOCUMENTS_MANIFEST');
  if (mode === 'enforce' && !manifestPath)
    throw new ConfigError('TRUSTED_DOCUMENTS_MANIFEST', 'is required when TRUSTED_DOCUMENTS=enforce');
  if (manifestPath && !existsSync(manifestPath))
    throw new ConfigError('TRUSTED_DOCUMENTS_MANIFEST', `names no file: ${manifestPath}`);
  return {
    enforce: mode === 'enforce',
    manifestPath: manifestPath && resolve(manifestPath),
    apqTtlSeconds: int(env, 'APQ_TTL_SECONDS', 24 * 3600, 60, 365 * 24 * 3600),
  };
}
