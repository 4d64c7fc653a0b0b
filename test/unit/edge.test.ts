import type { IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { OperationLabels } from '../../src/server/operation-labels';
import { clientAddressOf, requestId, traceId } from '../../src/server/request-id';
import { authorizationParam } from '../../src/server/ws';

const dir = mkdtempSync(join(tmpdir(), 'edge-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const req = (headers: Record<string, string>, remoteAddress = '127.0.0.1') =>
  ({ headers, socket: { remoteAddress } }) as unknown as IncomingMessage;

const configError = (env: Record<string, string>): string => {
  try {
    loadConfig({ DATA_DIR: dir, ...env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('operation labels', () => {
  test('the first N names, then other; names that are not short GraphQL names are other', () => {
    const labels = new OperationLabels(3);
    expect(['A', 'B', 'C', 'D', 'A', 'E'].map((n) => labels.label(n))).toEqual([
      'A',
      'B',
      'C',
      'other',
      'A',
      'other',
    ]);
    expect(labels.label(undefined)).toBe('anonymous');
    expect(new OperationLabels(10).label('X'.repeat(65))).toBe('other');
    expect(new OperationLabels(10).label('a-b')).toBe('other');
  });

  test('registered names are always labelled and take no slot', () => {
    const labels = new OperationLabels(1, (n) => n.startsWith('Known'));
    expect(labels.label('KnownOne')).toBe('KnownOne');
    expect(labels.label('First')).toBe('First');
    expect(labels.label('KnownTwo')).toBe('KnownTwo');
    expect(labels.label('Second')).toBe('other');
  });
});

describe('request ids and client addresses', () => {
  test('x-request-id is kept when sane, replaced otherwise; traceparent gives its trace id', () => {
    expect(requestId(req({ 'x-request-id': 'abc-123' }))).toBe('abc-123');
    expect(requestId(req({ 'x-request-id': 'has space' }))).not.toBe('has space');
    expect(requestId(req({}))).toMatch(/^[0-9a-f-]{36}$/);
    expect(traceId(req({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }))).toBe(
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
    expect(traceId(req({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' }))).toBe(
      undefined,
    );
    expect(traceId(req({ traceparent: 'garbage' }))).toBeUndefined();
  });

  test('X-Forwarded-For counts only from trusted proxies', () => {
    const none = clientAddressOf([]);
    expect(none.of(req({ 'x-forwarded-for': '203.0.113.9' }))).toBe('127.0.0.1');
    const loopback = clientAddressOf(['loopback']);
    expect(loopback.of(req({ 'x-forwarded-for': '203.0.113.9' }))).toBe('203.0.113.9');
    // A client that is not a trusted proxy cannot choose its address.
    expect(loopback.of(req({ 'x-forwarded-for': '203.0.113.9' }, '198.51.100.7'))).toBe('198.51.100.7');
  });

  test('the WebSocket token is found under authorization in any letter case', () => {
    for (const key of ['authorization', 'Authorization', 'AUTHORIZATION', 'aUtHoRiZaTiOn'])
      expect(authorizationParam({ [key]: 'Bearer t' })).toBe('Bearer t');
    expect(authorizationParam({ token: 'Bearer t' })).toBeNull();
    expect(authorizationParam(undefined)).toBeNull();
  });
});

describe('edge configuration', () => {
  const PROD = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://db/shop',
    PAYMENT_PROVIDER_URL: 'https://provider.example.com',
    JWT_SECRET: 'jwt-secret-0123456789abcdef',
    PAYMENT_WEBHOOK_SECRET: 'payment-secret-0123456789',
    LOGISTICS_WEBHOOK_SECRET: 'logistics-secret-0123456789',
    PAYMENT_PROVIDER_API_KEY: 'provider-api-key-0123456789',
  };

  test('defaults', () => {
    expect(loadConfig({ DATA_DIR: dir }).edge).toEqual({
      corsOrigins: [],
      trustProxy: [],
      bodyLimit: 1024 * 1024,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      ws: {
        maxConnectionsPerIp: 100,
        maxConnectionsPerUser: 20,
        maxSubscriptionsPerSocket: 25,
        initTimeoutMs: 5_000,
        maxPayloadBytes: 128 * 1024,
      },
      metrics: { token: undefined, port: undefined, maxOperationNames: 100 },
    });
  });

  test('CORS_ORIGINS: origins only; * only outside production', () => {
    expect(
      loadConfig({ DATA_DIR: dir, CORS_ORIGINS: 'https://a.example, http://localhost:5173/' }).edge
        .corsOrigins,
    ).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(loadConfig({ DATA_DIR: dir, CORS_ORIGINS: '*' }).edge.corsOrigins).toBe('*');
    expect(configError({ CORS_ORIGINS: 'https://a.example/path' })).toMatch(
      /CORS_ORIGINS\[0\] must be an origin/,
    );
    expect(configError({ ...PROD, METRICS_TOKEN: 'metrics-token-0123456789', CORS_ORIGINS: '*' })).toMatch(
      /CORS_ORIGINS must list origins when NODE_ENV=production/,
    );
  });

  test('production needs METRICS_TOKEN or METRICS_PORT; TRUST_PROXY must parse', () => {
    expect(configError(PROD)).toBe(
      'Invalid configuration: METRICS_TOKEN or METRICS_PORT is required when NODE_ENV=production',
    );
    expect(loadConfig({ DATA_DIR: dir, ...PROD, METRICS_PORT: '9464' }).edge.metrics.port).toBe(9464);
    expect(configError({ METRICS_TOKEN: 'short' })).toMatch(/METRICS_TOKEN must be at least 16/);
    expect(configError({ TRUST_PROXY: 'not-an-address' })).toMatch(/TRUST_PROXY/);
    expect(loadConfig({ DATA_DIR: dir, TRUST_PROXY: 'loopback, 10.0.0.0/8' }).edge.trustProxy).toEqual([
      'loopback',
      '10.0.0.0/8',
    ]);
  });
});
