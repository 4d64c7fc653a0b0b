import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRedisUrl } from '../shared/redis';

/** Readers of single variables: each names the variable and the problem when a value is bad. */

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`);
  }
}

export type Env = Record<string, string | undefined>;

export function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

export function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/** A decimal amount such as "4.99" in minor units; "" or "none" means unset. */
export function amount(env: Env, name: string, fallback: string): number | null {
  const raw = env[name] === undefined ? fallback : (env[name] ?? '').trim();
  if (raw === '' || raw === 'none') return null;
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(raw);
  if (!m) throw new ConfigError(name, `must be an amount such as "4.99", got "${raw}"`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/** A decimal number (fractions allowed), for durations that tests shorten below a second. */
export function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw))
    throw new ConfigError(name, `must be a number such as 2 or 0.5, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

// REDIS_URL names one Redis (redis://, rediss://) or a cluster
// (redis-cluster://h1:p1,h2:p2, rediss-cluster:// with TLS); src/shared/redis.ts connects either.
export function redisUrl(env: Env): string | undefined {
  const raw = str(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  try {
    parseRedisUrl(raw);
  } catch (e) {
    throw new ConfigError('REDIS_URL', (e as Error).message);
  }
  return raw;
}

/**
 * Secrets that are unset are generated once and kept in DATA_DIR, so tokens and webhook signatures
 * stay valid across restarts of the embedded default. Production must set them explicitly.
 */
export function secret(env: Env, name: string, production: boolean, dataDir: string): string {
  const raw = str(env, name);
  if (raw !== undefined) {
    if (raw.length < 16) throw new ConfigError(name, 'must be at least 16 characters');
    return raw;
  }
  if (production) throw new ConfigError(name, 'is required when NODE_ENV=production');
  const file = join(dataDir, 'secrets.json');
  const stored: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (!stored[name]) {
    stored[name] = randomBytes(32).toString('hex');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  return stored[name];
}
