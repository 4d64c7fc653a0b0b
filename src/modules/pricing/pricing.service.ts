import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { badInput } from '../../shared/errors';
import { ErrorCode, UserError } from '../../shared/error-result';
import { parseMoney } from '../../shared/money';
import { TtlCache } from '../../shared/ttl-cache';
import type { CouponCreateInput, PromotionCreateInput } from './pricing.inputs';
import type { CouponRule, PromotionRule } from './pricing';

export interface CouponRow extends CouponRule {
  description: string;
  usageLimit: number | null;
  usedCount: number;
  perCustomerLimit: number;
}

/** A percent as basis points ("12.5" → 1250) or an amount as minor units. */
function ruleValue(kind: string, value: string): number {
  if (kind === 'PERCENT') {
    const bps = parseMoney(value, 'value'); // two decimals of a percent are basis points
    if (bps > 10_000) throw badInput('A percentage is at most 100', 'value');
    return bps;
  }
  return parseMoney(value, 'value');
}

function checkWindow(startsAt?: Date | null, endsAt?: Date | null) {
  if (startsAt && endsAt && endsAt <= startsAt) throw badInput('endsAt must be after startsAt', 'endsAt');
}

const toRule = (r: any): PromotionRule => ({
  id: String(r.id),
  name: r.name,
  kind: r.kind,
  value: Number(r.value),
  collection: r.collection,
  merchantId: r.merchant_id ? String(r.merchant_id) : null,
  minSubtotal: r.min_subtotal === null ? null : Number(r.min_subtotal),
  startsAt: r.starts_at,
  endsAt: r.ends_at,
});

export const isLive = (r: { startsAt: Date | null; endsAt: Date | null }, now: Date) =>
  (!r.startsAt || r.startsAt <= now) && (!r.endsAt || now < r.endsAt);

/** Promotions and coupons: what the pure pricing module needs, read from the database. */
export class PricingService {
  /**
   * Switched-on promotions that have not ended, reused for a few seconds: every cart read and every
   * checkout prices with them. Windows are checked by the pricing module at the moment of pricing,
   * so a promotion still starts and ends on the second; one created in this process shows at once.
   */
  private readonly promotions: TtlCache<Promise<PromotionRule[]>>;

  constructor(promotionCacheTtlMs = 5000) {
    this.promotions = new TtlCache(promotionCacheTtlMs, 1);
  }

  activePromotions(em: EntityManager): Promise<PromotionRule[]> {
    return this.promotions.getOrCreate('all', async () =>
      (
        await sqlAll(
          em,
          `select * from promotion where active and (ends_at is null or ends_at > now()) order by id`,
        )
      ).map(toRule),
    );
  }

  async coupon(em: EntityManager, code: string, forUpdate = false): Promise<CouponRow | null> {
    const [r] = await sqlAll<any>(
      em,
      `select * from coupon where code = $1 ${forUpdate ? 'for update' : ''}`,
      [code.toUpperCase()],
    );
    if (!r) return null;
    return {
      code: r.code,
      description: r.description,
      kind: r.kind,
      value: Number(r.value),
      minSubtotal: r.min_subtotal === null ? null : Number(r.min_subtotal),
      startsAt: r.starts_at,
      endsAt: r.ends_at,
      usageLimit: r.usage_limit,
      usedCount: r.used_count,
      perCustomerLimit: r.per_customer_limit,
    };
  }

  /** COUPON_EXHAUSTED when the coupon has no uses left in all, or for this customer. */
  async checkUsage(em: EntityManager, c: CouponRow, customerId: string | null): Promise<UserError | null> {
    if (c.usageLimit !== null && c.usedCount >= c.usageLimit) {
      return UserError.of(ErrorCode.COUPON_EXHAUSTED, `Coupon ${c.code} has been used up`, 'code');
    }
    if (customerId) {
      const [{ n }] = await sqlAll<{ n: number }>(
        em,
        'select count(*)::int as n from coupon_redemption where coupon_code = $1 and customer_id = $2 and released_at is null',
        [c.code, customerId],
      );
      if (n >= c.perCustomerLimit)
        return UserError.of(ErrorCode.COUPON_EXHAUSTED, `You have already used coupon ${c.code}`, 'code');
    }
    return null;
  }

  /** Takes one use of the coupon for a checkout; false when the last use went to someone else. */
  async redeem(em: EntityManager, code: string, checkoutId: string, customerId: string): Promise<boolean> {
    const taken = await sqlAll(
      em,
      `update coupon set used_count = used_count + 1
        where code = $1 and (usage_limit is null or used_count < usage_limit) returning code`,
      [code],
    );
    if (taken.length === 0) return false;
    await sqlAll(
      em,
      'insert into coupon_redemption (checkout_id, coupon_code, customer_id) values ($1, $2, $3)',
      [checkoutId, code, customerId],
    );
    return true;
  }

  /** Gives a checkout's coupon use back (all its orders were cancelled); at most once. */
  async release(em: EntityManager, checkoutId: string): Promise<void> {
    await sqlAll(
      em,
      `with r as (update coupon_redemption set released_at = now() where checkout_id = $1 and released_at is null returning coupon_code)
       update coupon c set used_count = c.used_count - 1 from r where c.code = r.coupon_code`,
      [checkoutId],
    );
  }

  async createCoupon(em: EntityManager, input: CouponCreateInput): Promise<CouponRow> {
    checkWindow(input.startsAt, input.endsAt);
    const rows = await sqlAll(
      em,
      `insert into coupon (code, description, kind, value, min_subtotal, usage_limit, per_customer_limit, starts_at, ends_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (code) do nothing returning code`,
      [
        input.code.toUpperCase(),
        input.description,
        input.kind,
        ruleValue(input.kind, input.value),
        input.minSubtotal ? parseMoney(input.minSubtotal, 'minSubtotal') : null,
        input.usageLimit ?? null,
        input.perCustomerLimit ?? 1,
        input.startsAt ?? null,
        input.endsAt ?? null,
      ],
    );
    if (rows.length === 0) throw badInput(`Coupon ${input.code.toUpperCase()} exists`, 'code');
    return (await this.coupon(em, input.code))!;
  }

  async createPromotion(
    em: EntityManager,
    input: PromotionCreateInput,
    merchantId: string | null,
  ): Promise<PromotionRule & { active: boolean }> {
    checkWindow(input.startsAt, input.endsAt);
    const [r] = await sqlAll<any>(
      em,
      `insert into promotion (name, kind, value, collection, merchant_id, min_subtotal, starts_at, ends_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
      [
        input.name,
        input.kind,
        ruleValue(input.kind, input.value),
        input.collection ?? null,
        merchantId,
        input.minSubtotal ? parseMoney(input.minSubtotal, 'minSubtotal') : null,
        input.startsAt ?? null,
        input.endsAt ?? null,
      ],
    );
    const rule = toRule(r);
    this.promotions.clear();
    return { ...rule, active: r.active && isLive(rule, new Date()) };
  }
}
