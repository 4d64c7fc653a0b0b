import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { ComplexityEstimator } from 'graphql-query-complexity';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { Principal } from '../../shared/auth';
import { connectRedis, type RedisClient } from '../../shared/redis';
import { CostCache, costEstimator } from './cost';
import { deadlineExceeded, queryTooCostly, rateLimited } from './errors';
import { hashPool } from './hash-pool';
import { oneSignInPerOperation } from './one-signin';
import { callerOf, RateLimits, rateLimitHeaders, type Verdict } from './rate-limits';
import { SigninGuard } from './signin-guard';
import { inputError } from './inputs';
import { fieldHooksOf, installFieldHooks } from '../field-hooks';

/** What the protection plugin reads from a request's context. */
interface ProtectedContext {
  principal: Principal | null;
  /** The peer address of the connection (set by the HTTP layer). */
  clientIp?: string;
}

export interface CostReport {
  requested: number;
  limit: number;
  throttle?: Verdict['throttle'];
}

/**
 * Traffic protection (docs/security.md): the cost model, rate limits per IP, user and partner,
 * the sign-in guard and the execution deadline. One instance per process; with REDIS_URL the
 * counters live in Redis and hold across processes.
 */
export class Protection {
  readonly limits: RateLimits;
  readonly signin: SigninGuard;
  readonly maxCost: number;
  /** The longest list any argument accepts: a cart's lines, a product's variants, a page. */
  readonly maxList: number;
  private readonly estimator: ComplexityEstimator;
  /** Costs remembered per schema and document (see CostCache). */
  private readonly costs = new WeakMap<GraphQLSchema, CostCache>();
  private readonly redis?: RedisClient;

  constructor(
    private readonly config: Config,
    private readonly log?: Logger,
  ) {
    if (config.redisUrl) {
      // Fail fast when Redis is away: the limiters fall back to their in-memory insurance.
      // Each counter is one key (rate-limiter-flexible's script names only it): cluster-safe.
      this.redis = connectRedis(config.redisUrl, {
        purpose: 'rate limits',
        log,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
      });
    }
    const p = config.protection;
    hashPool.configure(p.passwordHashConcurrency, p.passwordHashQueue);
    this.limits = new RateLimits(p, this.redis);
    this.signin = new SigninGuard(p, this.redis);
    this.maxCost = config.limits.maxCost;
    this.maxList = Math.max(100, config.cart.maxLines, config.limits.maxPageSize);
    this.estimator = costEstimator({
      maxPageSize: config.limits.maxPageSize,
      maxLines: config.cart.maxLines,
    });
  }

  /** Validation rules that need no variables (HTTP and WebSocket alike). */
  validationRules(): ValidationRule[] {
    return [oneSignInPerOperation];
  }

  /** The cost of what will run; an operation whose variables do not fit costs 0 (it will not run). */
  cost(schema: GraphQLSchema, document: DocumentNode, variables: unknown, operationName?: string | null) {
    try {
      let costs = this.costs.get(schema);
      if (!costs) this.costs.set(schema, (costs = new CostCache(schema, this.estimator)));
      return costs.cost(document, variables as Record<string, unknown>, operationName);
    } catch (e) {
      // Too many nodes to even count is too costly; bad variables are reported by the executor.
      if (e instanceof GraphQLError && /maximum allowed number of nodes/.test(e.message)) {
        return Number.MAX_SAFE_INTEGER;
      }
      return 0;
    }
  }

  /**
   * A graphql-ws subscribe: the same cost limit and rate limits as over HTTP. Returns the errors to
   * answer with (`refused`), or null to go ahead, and the cost report its results carry in
   * `extensions.cost`, as over HTTP.
   */
  async checkSubscribe(
    schema: GraphQLSchema,
    document: DocumentNode,
    payload: { variables?: unknown; operationName?: string | null },
    principal: Principal | null,
    ip: string | undefined,
  ): Promise<{ refused: GraphQLError[] | null; cost: CostReport }> {
    const cost: CostReport = { requested: 0, limit: this.maxCost };
    const badText = inputError(document, payload.variables, this.maxList);
    if (badText) return { refused: [badText], cost };
    cost.requested = this.cost(schema, document, payload.variables, payload.operationName);
    if (cost.requested > this.maxCost)
      return { refused: [queryTooCostly(cost.requested, this.maxCost)], cost };
    const caller = callerOf(principal, ip);
    const verdict = await this.limits.consume(caller, caller.kind === 'partner' ? cost.requested : 1);
    if (caller.kind === 'partner') cost.throttle = verdict.throttle;
    return { refused: verdict.allowed ? null : [rateLimited(verdict)], cost };
  }

  /**
   * The Apollo plugin: the caller's request is counted as soon as it arrives; once the operation is
   * known its cost is computed with its variables and checked before anything runs; every response
   * carries extensions.cost and the RateLimit-* headers; execution stops at the deadline.
   */
  plugin(schema: GraphQLSchema): ApolloServerPlugin<ProtectedContext> {
    const timeoutMs = this.config.protection.executionTimeoutMs;
    return {
      requestDidStart: async ({ contextValue }) => {
        const caller = callerOf(contextValue.principal, contextValue.clientIp);
        // Partners pay their operation's cost (known later); everyone else one per operation, now.
        const admitted = caller.kind === 'partner' ? undefined : this.limits.consume(caller, 1);
        admitted?.catch(() => undefined);
        const report: CostReport = { requested: 0, limit: this.maxCost };
        let verdict: Verdict | undefined;
        return {
          didResolveOperation: async ({ document, request, operationName }) => {
            report.requested = this.cost(schema, document, request.variables, operationName);
            verdict = admitted ? await admitted : undefined;
            if (verdict && !verdict.allowed) throw rateLimited(verdict);
            if (report.requested > this.maxCost) throw queryTooCostly(report.requested, this.maxCost);
            const badText = inputError(document, request.variables, this.maxList);
            if (badText) throw badText;
            if (caller.kind === 'partner') {
              verdict = await this.limits.consume(caller, report.requested);
              report.throttle = verdict.throttle;
              if (!verdict.allowed) throw rateLimited(verdict);
            }
          },
          executionDidStart: async ({ schema, contextValue }) => {
            // Checked as each field starts, by the schema's field hooks (src/server/field-hooks.ts).
            installFieldHooks(schema);
            const hooks = fieldHooksOf(contextValue);
            hooks.deadline = Date.now() + timeoutMs;
            hooks.deadlineError = () => deadlineExceeded(timeoutMs);
          },
          willSendResponse: async ({ response }) => {
            verdict ??= admitted ? await admitted.catch(() => undefined) : undefined;
            if (verdict) for (const [k, v] of rateLimitHeaders(verdict)) response.http.headers.set(k, v);
            if (response.body.kind === 'single') {
              const r = response.body.singleResult;
              r.extensions = { ...r.extensions, cost: { ...report } };
            }
          },
        };
      },
    };
  }

  async close(): Promise<void> {
    await this.redis?.quit().catch(() => undefined);
  }
}
