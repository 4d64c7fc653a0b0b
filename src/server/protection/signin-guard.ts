import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { ProtectionConfig } from '../../config';
import type { RedisClient } from '../../shared/redis';
import { retryLater } from './errors';
import { limiter } from './rate-limits';

/** Failures are counted over this window; reaching a limit locks out for SIGNIN_LOCKOUT_SECONDS. */
const FAILURE_WINDOW_SECONDS = 15 * 60;

/**
 * Failed sign-ins, counted three ways over 15 minutes:
 *
 * - per account and IP: SIGNIN_MAX_FAILURES failures lock that pair out. This is the lock an attacker
 *   guessing one account's password meets; the owner signing in from elsewhere is not affected.
 * - per IP (any account): 4 × SIGNIN_MAX_FAILURES, so one client cannot walk through many accounts.
 * - per account (any IP): 4 × SIGNIN_MAX_FAILURES, so a botnet cannot guess one account from many IPs
 *   at full speed. This one can lock the owner out too, but only for SIGNIN_LOCKOUT_SECONDS after
 *   the last burst; the right password works again once it ends.
 *
 * Before a lockout each failure is answered later the closer it comes to the limit (2 s × the share
 * of the limit used, squared: 80 ms, 320 ms, 720 ms, 1.3 s with the default 5), which slows a guesser
 * without holding a database connection.
 * A locked-out attempt is refused before the password is checked, and does not extend the lockout.
 */
export class SigninGuard {
  private readonly pair: RateLimiterAbstract;
  private readonly ip: RateLimiterAbstract;
  private readonly account: RateLimiterAbstract;
  private readonly max: number;
  /** Sign-ins and sign-ups in flight per IP (this process). */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly config: ProtectionConfig,
    redis: RedisClient | undefined,
  ) {
    const duration = FAILURE_WINDOW_SECONDS;
    this.max = config.signinMaxFailures;
    this.pair = limiter(redis, { keyPrefix: 'signin:pair', points: this.max, duration });
    this.ip = limiter(redis, { keyPrefix: 'signin:ip', points: this.max * 4, duration });
    this.account = limiter(redis, { keyPrefix: 'signin:account', points: this.max * 4, duration });
  }

  private keys(email: string, ip: string | undefined) {
    const account = email.trim().toLowerCase();
    const from = ip ?? 'unknown';
    return [
      [this.pair, `${account}|${from}`, this.max],
      [this.ip, from, this.max * 4],
      [this.account, account, this.max * 4],
    ] as const;
  }

  /**
   * Runs a sign-in or sign-up holding one of the IP's few in-flight slots (SIGNIN_CONCURRENT_PER_IP):
   * the hashing pool is shared and first come, first served, so without this one flooding client
   * would queue dozens of hashes ahead of everyone else's sign-in.
   */
  async withSlot<T>(ip: string | undefined, work: () => Promise<T>): Promise<T> {
    const key = ip ?? 'unknown';
    const n = this.inFlight.get(key) ?? 0;
    if (n >= this.config.signinConcurrentPerIp) {
      throw retryLater('Too many sign-ins at once from this address; retry shortly', 1000);
    }
    this.inFlight.set(key, n + 1);
    try {
      return await work();
    } finally {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
    }
  }

  /** RATE_LIMITED while any of the three counts has reached its limit. */
  async check(email: string, ip: string | undefined): Promise<void> {
    for (const [l, key, max] of this.keys(email, ip)) {
      const res = await l.get(key);
      if (res && res.consumedPoints >= max) {
        throw retryLater('Too many failed sign-ins; try again later', res.msBeforeNext);
      }
    }
  }

  /** Counts a failure; waits a little longer after each one. */
  async failed(email: string, ip: string | undefined): Promise<void> {
    let share = 0;
    for (const [l, key, max] of this.keys(email, ip)) {
      const res: RateLimiterRes = await l.consume(key).catch((e: unknown) => {
        if (e instanceof RateLimiterRes) return e;
        throw e;
      });
      share = Math.max(share, Math.min(1, res.consumedPoints / max));
      // The limit reached: locked out from now for SIGNIN_LOCKOUT_SECONDS, then counted afresh.
      if (res.consumedPoints >= max) await l.block(key, this.config.signinLockoutSeconds);
    }
    const delay = Math.round(2000 * share * share);
    await new Promise((r) => setTimeout(r, delay));
  }

  /** The right password clears this pair's failures (not the IP's or the account's). */
  async succeeded(email: string, ip: string | undefined): Promise<void> {
    const [[l, key]] = this.keys(email, ip);
    await l.delete(key);
  }
}
