import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { ProtectionConfig } from '../../config';
import type { RedisClient } from '../../shared/redis';
import type { Principal } from '../../shared/auth';

/**
 * Who a request is counted against: a partner (by its partner id, a cost bucket), a signed-in user
 * (operations per minute), or an anonymous caller by IP (operations per minute).
 */
export type Caller =
  { kind: 'partner'; id: string } | { kind: 'user'; id: string } | { kind: 'ip'; id: string };

/** Partners (built elsewhere) carry their partner id on the principal; this reads it when present. */
export function callerOf(principal: Principal | null, ip: string | undefined): Caller {
  const partnerId = (principal as { partnerId?: string | null } | null)?.partnerId;
  if (partnerId) return { kind: 'partner', id: String(partnerId) };
  if (principal) return { kind: 'user', id: principal.userId };
  return { kind: 'ip', id: ip ?? 'unknown' };
}

export interface Verdict {
  allowed: boolean;
  /** The window's size (requests, or cost points for partners). */
  limit: number;
  remaining: number;
  /** Until the window resets (or, refused, until a retry can succeed). */
  resetMs: number;
  /** Partners only: the cost bucket as reported in extensions.cost.throttle. */
  throttle?: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number };
}

/**
 * A limiter kept in Redis when REDIS_URL is set (so every process counts together), with an
 * in-memory limiter of the same shape as insurance when Redis cannot answer; in memory otherwise.
 */
export function limiter(
  redis: RedisClient | undefined,
  opts: { keyPrefix: string; points: number; duration: number; blockDuration?: number },
): RateLimiterAbstract {
  const memory = new RateLimiterMemory(opts);
  if (!redis) return memory;
  return new RateLimiterRedis({ ...opts, storeClient: redis, insuranceLimiter: memory });
}

const resOf = (e: unknown): RateLimiterRes => {
  if (e instanceof RateLimiterRes) return e;
  throw e;
};

/** Request rate limits (per IP, per user) and the partners' cost bucket. */
export class RateLimits {
  private readonly ip: RateLimiterAbstract;
  private readonly user: RateLimiterAbstract;
  private readonly partner: RateLimiterAbstract;
  /** Cost points that come back per second (the bucket refills over one window). */
  readonly restoreRate: number;

  constructor(
    private readonly config: ProtectionConfig,
    redis: RedisClient | undefined,
  ) {
    this.ip = limiter(redis, { keyPrefix: 'rl:ip', points: config.ipPerMinute, duration: 60 });
    this.user = limiter(redis, { keyPrefix: 'rl:user', points: config.userPerMinute, duration: 60 });
    const window = Math.max(1, Math.ceil(config.partnerCostBucket / config.partnerCostRestorePerSecond));
    this.partner = limiter(redis, {
      keyPrefix: 'rl:partner',
      points: config.partnerCostBucket,
      duration: window,
    });
    this.restoreRate = Math.round(config.partnerCostBucket / window);
  }

  /** Takes `points` (1 per operation; the operation's cost for partners) from the caller's window. */
  async consume(caller: Caller, points = 1): Promise<Verdict> {
    const l = caller.kind === 'partner' ? this.partner : caller.kind === 'user' ? this.user : this.ip;
    const limit =
      caller.kind === 'partner'
        ? this.config.partnerCostBucket
        : caller.kind === 'user'
          ? this.config.userPerMinute
          : this.config.ipPerMinute;
    let allowed = true;
    let res: RateLimiterRes;
    try {
      res = await l.consume(caller.id, Math.max(0, Math.ceil(points)));
    } catch (e) {
      res = resOf(e);
      allowed = false;
    }
    const remaining = Math.max(0, res.remainingPoints);
    return {
      allowed,
      limit,
      remaining,
      resetMs: res.msBeforeNext,
      throttle:
        caller.kind === 'partner'
          ? { maximumAvailable: limit, currentlyAvailable: remaining, restoreRate: this.restoreRate }
          : undefined,
    };
  }
}

/** The RateLimit-* headers (IETF draft) and, when refused, Retry-After. */
export function rateLimitHeaders(v: Verdict): [string, string][] {
  const reset = String(Math.max(1, Math.ceil(v.resetMs / 1000)));
  // A lockout has no window to report, only when to come back.
  const headers: [string, string][] = v.limit
    ? [
        ['ratelimit-limit', String(v.limit)],
        ['ratelimit-remaining', String(v.remaining)],
        ['ratelimit-reset', reset],
      ]
    : [];
  if (!v.allowed) headers.push(['retry-after', reset]);
  return headers;
}
