import { DEFAULT_DELIVERY, type DeliveryOptions } from './delivery';

/**
 * The sandbox provider's environment, parsed and validated in one place (it is a service of its
 * own, so it does not share the main server's config):
 *   SANDBOX_PORT (4010; 0 = any free port), SANDBOX_HOST (127.0.0.1),
 *   SANDBOX_API_KEY, SANDBOX_WEBHOOK_SECRET (required when NODE_ENV=production; comma-separated
 *   to sign with several during a rotation), SANDBOX_PUBLIC_URL (http://<host>:<port>),
 *   SANDBOX_CALLBACK_URL (for payments created without a callbackUrl),
 *   SANDBOX_CALLBACK_BASE_MS (200), SANDBOX_CALLBACK_MAX_MS (10000),
 *   SANDBOX_CALLBACK_MAX_ATTEMPTS (8), SANDBOX_CALLBACK_TIMEOUT_MS (5000).
 */
export interface SandboxConfig {
  port: number;
  host: string;
  apiKey: string;
  webhookSecret: string[];
  publicUrl?: string;
  defaultCallbackUrl?: string;
  delivery: DeliveryOptions;
}

export const DEV_API_KEY = 'sandbox-api-key';
export const DEV_WEBHOOK_SECRET = 'sandbox-secret';

export class SandboxConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid sandbox configuration: ${variable} ${problem}`);
    this.name = 'SandboxConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new SandboxConfigError(name, `must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new SandboxConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function httpUrl(env: Env, name: string): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new SandboxConfigError(name, 'is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SandboxConfigError(name, `must use http: or https:, got ${parsed.protocol}`);
  }
  return raw;
}

function required(env: Env, name: string, production: boolean, fallback: string): string {
  const raw = str(env, name);
  if (raw !== undefined) return raw;
  if (production) throw new SandboxConfigError(name, 'is required when NODE_ENV=production');
  return fallback;
}

export function sandboxConfigFromEnv(env: Env): SandboxConfig {
  const production = str(env, 'NODE_ENV') === 'production';
  const webhookSecret = required(env, 'SANDBOX_WEBHOOK_SECRET', production, DEV_WEBHOOK_SECRET)
    .split(',')
    .map((s) => s.trim());
  if (webhookSecret.some((s) => s === '')) {
    throw new SandboxConfigError('SANDBOX_WEBHOOK_SECRET', 'has an empty secret in its list');
  }
  const delivery: DeliveryOptions = {
    baseMs: int(env, 'SANDBOX_CALLBACK_BASE_MS', DEFAULT_DELIVERY.baseMs, 1, 3_600_000),
    maxMs: int(env, 'SANDBOX_CALLBACK_MAX_MS', DEFAULT_DELIVERY.maxMs, 1, 86_400_000),
    maxAttempts: int(env, 'SANDBOX_CALLBACK_MAX_ATTEMPTS', DEFAULT_DELIVERY.maxAttempts, 1, 100),
    timeoutMs: int(env, 'SANDBOX_CALLBACK_TIMEOUT_MS', DEFAULT_DELIVERY.timeoutMs, 1, 600_000),
  };
  return {
    port: int(env, 'SANDBOX_PORT', 4010, 0, 65535),
    host: str(env, 'SANDBOX_HOST') ?? '127.0.0.1',
    apiKey: required(env, 'SANDBOX_API_KEY', production, DEV_API_KEY),
    webhookSecret,
    publicUrl: httpUrl(env, 'SANDBOX_PUBLIC_URL'),
    defaultCallbackUrl: httpUrl(env, 'SANDBOX_CALLBACK_URL'),
    delivery,
  };
}
