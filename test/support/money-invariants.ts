/**
 * The money and stock invariants, as SQL (no application code): usable from an integration test
 * (through the app's connection) and from an e2e test (a plain `pg` client on the server's
 * database). Each check is one statement, so it reads one snapshot and is exact even while
 * payments, callbacks and refunds are being processed. Every query returns the offending rows;
 * `moneyProblems` returns them labelled, and an empty list means everything holds.
 */

export type Query = (sql: string) => Promise<any[]>;

const PAID_STATES = `('PAID', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'REFUNDED')`;
const SETTLED = `('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED')`;
/** Orders and their lines are hot or archived (docs/archive.md): the checks cover both. */
const ORDERS = `(select * from shop_order union all select * from archive.shop_order)`;
const LINES = `(select * from order_line union all select * from archive.order_line)`;

/** The ledger's own invariants (LedgerService.checkInvariants), replicated. */
export const LEDGER_CHECKS: Record<string, string> = {
  'posting does not sum to zero or has fewer than two entries': `
    select p.id, p.kind, p.reference, count(e.id)::int as n, coalesce(sum(e.amount), 0)::bigint as total
      from ledger_posting p left join ledger_entry e on e.posting_id = p.id
     group by p.id having coalesce(sum(e.amount), 0) <> 0 or count(e.id) < 2`,
  'account balance is not the sum of its entries': `
    select a.id, a.kind, a.balance, coalesce(sum(e.amount), 0)::bigint as total
      from ledger_account a left join ledger_entry e on e.account_id = a.id
     group by a.id having a.balance <> coalesce(sum(e.amount), 0)`,
  'entry balance_after is not the running sum': `
    select * from (
      select e.id, e.account_id, e.balance_after,
             sum(e.amount) over (partition by e.account_id order by e.id) as expected
        from ledger_entry e) r
     where balance_after <> expected`,
  'user, merchant or fee balance below zero': `
    select a.id, a.owner_type, a.owner_id, a.kind, a.balance from ledger_account a
     where a.kind <> 'PROVIDER_CLEARING'
       and (a.balance < 0 or exists (select 1 from ledger_entry e where e.account_id = a.id and e.balance_after < 0))`,
  'the balances of all accounts do not sum to zero': `
    select total from (select coalesce(sum(balance), 0)::bigint as total from ledger_account) t where total <> 0`,
};

/** How payments, refunds, orders, the ledger and stock must agree with each other. */
export const PAYMENT_CHECKS: Record<string, string> = {
  'payment refunded outside 0..amount, or not the sum of its refunds': `
    select p.id, p.amount, p.refunded, coalesce(sum(r.amount), 0)::bigint as refunds
      from payment p left join refund r on r.payment_id = p.id
     group by p.id
    having p.refunded < 0 or p.refunded > p.amount or p.refunded <> coalesce(sum(r.amount), 0)`,
  'payment status does not match what was refunded': `
    select id, status, amount, refunded from payment
     where not case status
       when 'REFUNDED' then refunded = amount
       when 'PARTIALLY_REFUNDED' then refunded > 0 and refunded < amount
       else refunded = 0 end`,
  'a paid order has not exactly one PURCHASE, or it is not from a settled payment of the order': `
    select o.id, o.status, array_agg(distinct p.reference) filter (where p.id is not null) as purchases
      from ${ORDERS} o
      left join ledger_entry e on e.reference = 'order:' || o.id
      left join ledger_posting p on p.id = e.posting_id and p.kind = 'PURCHASE'
     where o.status in ${PAID_STATES}
     group by o.id, o.status
    having count(distinct p.id) <> 1
        or not exists (select 1 from payment_order po join payment pay on pay.id = po.payment_id
                        where po.order_id = o.id and pay.status in ${SETTLED}
                          and 'payment:' || pay.id = min(p.reference))`,
  'an unpaid or cancelled order has a PURCHASE': `
    select o.id, o.status, p.reference from ${ORDERS} o
      join ledger_entry e on e.reference = 'order:' || o.id
      join ledger_posting p on p.id = e.posting_id and p.kind = 'PURCHASE'
     where o.status not in ${PAID_STATES}`,
  'a settled payment kept money for an order it did not pay (its share is not refunded in full)': `
    select pay.id as payment_id, po.order_id, po.amount,
           (select coalesce(sum(r.amount), 0) from refund r where r.payment_id = pay.id and r.order_id = po.order_id)::bigint as refunded
      from payment pay join payment_order po on po.payment_id = pay.id
     where pay.status in ${SETTLED}
       and not exists (select 1 from ledger_posting lp join ledger_entry e on e.posting_id = lp.id
                        where lp.kind = 'PURCHASE' and lp.reference = 'payment:' || pay.id and e.reference = 'order:' || po.order_id)
       and po.amount <> (select coalesce(sum(r.amount), 0) from refund r where r.payment_id = pay.id and r.order_id = po.order_id)`,
  'refunds of an order exceed its share of the payment': `
    select po.payment_id, po.order_id, po.amount, sum(r.amount)::bigint as refunded
      from payment_order po join refund r on r.payment_id = po.payment_id and r.order_id = po.order_id
     group by po.payment_id, po.order_id, po.amount having sum(r.amount) > po.amount`,
  'an order is REFUNDED exactly when its paying payment refunded its share': `
    select o.id, o.status, po.amount, (select coalesce(sum(r.amount), 0) from refund r
                                        where r.payment_id = po.payment_id and r.order_id = o.id)::bigint as refunded
      from ${ORDERS} o
      join ledger_entry e on e.reference = 'order:' || o.id
      join ledger_posting lp on lp.id = e.posting_id and lp.kind = 'PURCHASE'
      join payment_order po on po.order_id = o.id and 'payment:' || po.payment_id = lp.reference
     where (o.status = 'REFUNDED') <> (po.amount = (select coalesce(sum(r.amount), 0) from refund r
                                                     where r.payment_id = po.payment_id and r.order_id = o.id))
     group by o.id, o.status, po.payment_id, po.amount`,
  "a user's balance is not top-ups less balance payments kept": `
    select u.id, coalesce(a.balance, 0) as balance, x.expected from app_user u
      left join ledger_account a on a.owner_type = 'USER' and a.owner_id = u.id and a.kind = 'AVAILABLE'
      cross join lateral (
        select (coalesce(sum(p.amount) filter (where p.purpose = 'TOP_UP' and p.status = 'SUCCEEDED'), 0)
              - coalesce(sum(p.amount - p.refunded) filter (where p.purpose = 'CHECKOUT' and p.method = 'BALANCE' and p.status in ${SETTLED}), 0)
              -- card refunds an admin settled to the balance instead (refundResolve TO_BALANCE)
              + (select coalesce(sum(r.amount), 0) from refund r join payment rp on rp.id = r.payment_id
                  where rp.user_id = u.id and r.resolution = 'TO_BALANCE'))::bigint as expected
          from payment p where p.user_id = u.id) x
     where coalesce(a.balance, 0) <> x.expected`,
  // The clearing account is striped: its balance is the sum of its stripes.
  'the provider clearing account is not what card payments kept': `
    select (select coalesce(sum(balance), 0) from ledger_account where kind = 'PROVIDER_CLEARING')::bigint as balance, x.expected
      from (select (-coalesce(sum(p.amount) filter (where p.purpose = 'TOP_UP' and p.status = 'SUCCEEDED'), 0)
                    - coalesce(sum(p.amount - p.refunded) filter (where p.purpose = 'CHECKOUT' and p.status in ${SETTLED}), 0)
                    - (select coalesce(sum(amount), 0) from refund where resolution = 'TO_BALANCE'))::bigint as expected
              from payment p where p.method = 'CARD') x
     where (select coalesce(sum(balance), 0) from ledger_account where kind = 'PROVIDER_CLEARING') <> x.expected`,
  'a posting was made twice for one payment or refund': `
    select kind, reference, count(*)::int as n from ledger_posting group by kind, reference having count(*) > 1`,
};

export const STOCK_CHECKS: Record<string, string> = {
  'variant on_hand - reserved - sold < 0': `
    select id, on_hand, reserved, sold from variant where on_hand - reserved - sold < 0 or reserved < 0 or sold < 0`,
  'variant reserved is not the sum of its reservations': `
    select v.id, v.reserved, coalesce(sum(r.quantity), 0)::int as held
      from variant v left join stock_reservation r on r.variant_id = v.id
     group by v.id having v.reserved <> coalesce(sum(r.quantity), 0)`,
  'a reservation belongs to an order that is not awaiting payment': `
    select r.id, r.order_id, o.status from stock_reservation r join ${ORDERS} o on o.id = r.order_id
     where o.status <> 'PENDING_PAYMENT'`,
  'variant sold is not the units of its paid orders (plus DEDUCT_ON_ORDER units awaiting payment)': `
    select v.id, v.sold, coalesce(x.units, 0) as units from variant v
      left join (select ol.variant_id, sum(ol.quantity)::int as units from ${LINES} ol join ${ORDERS} o on o.id = ol.order_id
                  where o.status in ${PAID_STATES} or (o.status = 'PENDING_PAYMENT' and ol.stock_policy = 'DEDUCT_ON_ORDER')
                  group by ol.variant_id) x on x.variant_id = v.id
     where v.sold <> coalesce(x.units, 0)`,
};

/**
 * Loyalty points (docs/loyalty.md): the guarded balance and debt are the sums of the append-only
 * entries, and every order's points follow its money.
 */
const ORDER_POINTS = `(select order_id,
        coalesce(sum(amount) filter (where kind = 'EARN'), 0)::bigint as earned,
        coalesce(-sum(amount) filter (where kind = 'REVERSE'), 0)::bigint as reversed,
        coalesce(sum(amount) filter (where kind = 'RETURN'), 0)::bigint as returned
   from loyalty_entry where order_id is not null group by user_id, order_id)`;
export const LOYALTY_CHECKS: Record<string, string> = {
  "a user's points or points owed are not the sum of their loyalty entries": `
    select u.id, u.points, u.points_owed, coalesce(sum(e.points), 0)::bigint as points_sum,
           coalesce(sum(e.owed), 0)::bigint as owed_sum
      from app_user u left join loyalty_entry e on e.user_id = u.id
     group by u.id having u.points <> coalesce(sum(e.points), 0) or u.points_owed <> coalesce(sum(e.owed), 0)`,
  'a user holds points and owes points at once': `
    select id, points, points_owed from app_user where points < 0 or points_owed < 0 or (points > 0 and points_owed > 0)`,
  'an order took back more points than it earned, or gave back more than it was paid with': `
    select o.id, o.status, o.points_used, x.earned, x.reversed, x.returned
      from ${ORDERS} o join ${ORDER_POINTS} x on x.order_id = o.id
     where x.reversed > x.earned or x.returned > o.points_used`,
  'a cancelled or fully refunded order kept earned points, or did not give spent points back': `
    select o.id, o.status, o.points_used, x.earned, x.reversed, x.returned
      from ${ORDERS} o left join ${ORDER_POINTS} x on x.order_id = o.id
     where o.status in ('CANCELLED', 'REFUNDED')
       and (coalesce(x.earned, 0) <> coalesce(x.reversed, 0) or coalesce(x.returned, 0) <> o.points_used)`,
  "a checkout's orders were paid with other points than its SPEND entry took": `
    select o.checkout_id, sum(o.points_used)::bigint as used,
           coalesce((select -sum(e.amount) from loyalty_entry e where e.checkout_id = o.checkout_id and e.kind = 'SPEND'), 0)::bigint as spent
      from ${ORDERS} o group by o.checkout_id
    having sum(o.points_used) <> coalesce((select -sum(e.amount) from loyalty_entry e
                                            where e.checkout_id = o.checkout_id and e.kind = 'SPEND'), 0)`,
};

/** Every check that fails, with its offending rows (at most 5 each). */
export async function moneyProblems(
  query: Query,
  checks: Record<string, string> = {
    ...LEDGER_CHECKS,
    ...PAYMENT_CHECKS,
    ...STOCK_CHECKS,
    ...LOYALTY_CHECKS,
  },
): Promise<{ check: string; rows: any[] }[]> {
  const out: { check: string; rows: any[] }[] = [];
  for (const [check, sql] of Object.entries(checks)) {
    const rows = await query(`select * from (${sql}) q limit 5`);
    if (rows.length) out.push({ check, rows });
  }
  return out;
}
