import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { parseRedisUrl } from '../../src/shared/redis';

/** REDIS_URL names one Redis or a Redis Cluster (docs/redis.md). */
describe('parseRedisUrl', () => {
  test('redis:// and rediss:// are one Redis, passed to ioredis as they are', () => {
    expect(parseRedisUrl('redis://cache:6380/2')).toEqual({
      mode: 'standalone',
      url: 'redis://cache:6380/2',
    });
    expect(parseRedisUrl('rediss://u:p@cache')).toEqual({ mode: 'standalone', url: 'rediss://u:p@cache' });
  });

  test('redis-cluster:// lists seed nodes, with credentials, IPv6 and the default port', () => {
    expect(parseRedisUrl('redis-cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002/')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      username: 'app',
      password: 's@cret',
      tls: false,
    });
    expect(parseRedisUrl('rediss-cluster://:pw@h1:1,h2:2')).toMatchObject({
      mode: 'cluster',
      username: undefined,
      password: 'pw',
      tls: true,
    });
  });

  test.each([
    ['http://cache', /must use redis:, rediss:, redis-cluster: or rediss-cluster:, got http:/],
    ['cache:6379', /got no scheme/],
    ['redis-cluster://h1:7000,h2:x', /"h2:x" is not host:port/],
    ['redis-cluster://h1:7000,,h2:7001', /"" is not host:port/],
    ['redis-cluster://h1:70000', /is not host:port/],
    ['redis-cluster://h1:7000/3', /only database 0/],
    ['redis-cluster://h1:7000?tls=true', /only database 0/],
  ])('%s is refused', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  test('loadConfig validates REDIS_URL with it and keeps the text', () => {
    const dir = mkdtempSync(join(tmpdir(), 'redis-url-test-'));
    const env = { NODE_ENV: 'test', DATA_DIR: dir };
    expect(loadConfig({ ...env, REDIS_URL: 'redis-cluster://h1:7000,h2:7001' }).redisUrl).toBe(
      'redis-cluster://h1:7000,h2:7001',
    );
    expect(() => loadConfig({ ...env, REDIS_URL: 'redis-cluster://h1:7000/1' })).toThrow(
      'Invalid configuration: REDIS_URL a cluster has only database 0 and takes no path or options: list host:port pairs',
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
