import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import { freshDatabase, makeCarts, rawCheckout, seedVariants, ADDRESS, CHECKOUT } from './checkout';
import { closedLoop, peakRssMb, post, table, type Measured, startBenchServer } from './lib';

const DURATION = Number(process.env.BENCH_DURATION ?? 15);
const CONCURRENCY = 50;
const CUSTOMERS = 50;
const FEE_BPS = 500;

const PAY = `mutation($c: ID!, $k: String!) { paymentStart(checkoutId: $c, method: BALANCE, idempotencyKey: $k) { __typename ... on Payment { status } ... on ErrorResult { errorCode message } } }`;

/** Credits each customer's balance with a balanced TOP_UP posting, as the ledger itself would. */
export async function fund(pool: Pool, userIds: string[], amount: number): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    for (const u of userIds) {
      await c.query(
        `insert into ledger_account (owner_type, owner_id, kind) values ('USER', $1, 'AVAILABLE') on conflict do nothing`,
        [u],
      );
      const [{ id: user }] = (
        await c.query(
          `select id from ledger_account where owner_type = 'USER' and owner_id = $1 and kind = 'AVAILABLE'`,
          [u],
        )
      ).rows;
      const [clearing] = (
        await c.query(
          `select id, balance from ledger_account where owner_type = 'PLATFORM' and kind = 'PROVIDER_CLEARING' order by id limit 1 for update`,
        )
      ).rows;
      const [{ id: posting }] = (
        await c.query(`insert into ledger_posting (kind, reference) values ('TOP_UP', $1) returning id`, [
          `bench:${u}`,
        ])
      ).rows;
      await c.query('update ledger_account set balance = balance + $2 where id = $1', [user, amount]);
      await c.query('update ledger_account set balance = balance - $2 where id = $1', [clearing.id, amount]);
      await c.query(
        `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
         values ($1, $2, $3, $3, 'TOP_UP', $5), ($1, $4, -$3::bigint, $6, 'TOP_UP', $5)`,
        [posting, user, amount, clearing.id, `bench:${u}`, Number(clearing.balance) - amount],
      );
    }
    await c.query('commit');
  } finally {
    c.release();
  }
}

/**
 * The raw-driver baseline of paymentStart(BALANCE): the statements PaymentService and
 * LedgerService issue for a one-order checkout, in one transaction with `pg`.
 */
async function rawPay(pool: Pool, buyerId: string, checkoutId: string): Promise<void> {
  const c: PoolClient = await pool.connect();
  try {
    await c.query('begin');
    const key = randomBytes(8).toString('hex');
    const [{ result_ref: paymentId }] = (
      await c.query(
        `insert into idempotency_key (caller_id, scope, key, request_hash, result_ref) values ($1, 'payment', $2, 'h', next_order_id($1)::text)
         on conflict do nothing returning result_ref`,
        [buyerId, key],
      )
    ).rows;
    await c.query('select buyer_id, payment_deadline from checkout where id = $1 for update', [checkoutId]);
    const orders = (
      await c.query(
        'select id, total, status, merchant_id from shop_order where checkout_id = $1 order by id',
        [checkoutId],
      )
    ).rows;
    const amount = orders.reduce((s, o) => s + Number(o.total), 0);
    await c.query(
      `insert into payment (id, user_id, checkout_id, purpose, method, amount) values ($1, $2, $3, 'CHECKOUT', 'BALANCE', $4) returning *`,
      [paymentId, buyerId, checkoutId, amount],
    );
    await c.query(
      'insert into payment_order (payment_id, order_id, amount) select $1, o, a from unnest($2::bigint[], $3::bigint[]) as u(o, a)',
      [paymentId, orders.map((o) => o.id), orders.map((o) => Number(o.total))],
    );
    await c.query('select * from payment where id = $1 for update', [paymentId]);
    await c.query('select payment_deadline from checkout where id = $1 for update', [checkoutId]);
    await c.query(
      'select po.order_id, po.amount, o.merchant_id, o.status from payment_order po join shop_order o on o.id = po.order_id where po.payment_id = $1 order by po.order_id',
      [paymentId],
    );
    const o = orders[0];
    await c.query(
      `select variant_id, quantity from order_line where order_id = $1 and stock_policy = 'DEDUCT_ON_PAYMENT' order by variant_id`,
      [o.id],
    );
    const {
      rows: [paid],
    } = await c.query(
      `update shop_order set status = 'PAID', version = version + 1, event_seq = event_seq + 1, updated_at = now() where id = $1 and status = any($2::text[]) returning *`,
      [o.id, ['PENDING_PAYMENT']],
    );
    await c.query(
      `insert into order_event (order_id, buyer_id, merchant_id, seq, type, status)
       values ($1, $2, $3, $4, 'STATUS_CHANGED', 'PAID')`,
      [o.id, buyerId, o.merchant_id, paid.event_seq],
    );
    await c.query(
      `with released as (delete from stock_reservation where order_id = any($1::bigint[]) returning variant_id, quantity),
            per_variant as (select variant_id, sum(quantity)::int as q from released group by variant_id)
       update variant v set reserved = v.reserved - p.q, sold = v.sold + p.q from per_variant p where v.id = p.variant_id`,
      [[o.id]],
    );
    await c.query(
      `update payment set status = 'SUCCEEDED', settled_at = now(), updated_at = now() where id = $1`,
      [paymentId],
    );
    // The ledger: lock the accounts in id order, post, move balances, write the entries.
    const fee = Math.floor((amount * FEE_BPS) / 10000);
    const keys = [
      ['USER', buyerId, 'AVAILABLE'],
      ['MERCHANT', o.merchant_id, 'ESCROW'],
      ['PLATFORM', 0, 'FEE_REVENUE'],
    ];
    const accounts = (
      await c.query(
        `select a.id, a.owner_type, a.kind, a.balance from ledger_account a
           join unnest($1::text[], $2::bigint[], $3::text[]) as u(t, o, k) on a.owner_type = u.t and coalesce(a.owner_id, 0) = u.o and a.kind = u.k
          order by a.id for update of a`,
        [keys.map((k) => k[0]), keys.map((k) => k[1]), keys.map((k) => k[2])],
      )
    ).rows;
    const byKind = (kind: string) => accounts.find((a) => a.kind === kind)!;
    const [{ id: posting }] = (
      await c.query(
        `insert into ledger_posting (kind, reference) values ('PURCHASE', $1) on conflict (kind, reference) do nothing returning id`,
        [`payment:${paymentId}`],
      )
    ).rows;
    const deltas: [string, number][] = [
      [byKind('ESCROW').id, amount - fee],
      [byKind('FEE_REVENUE').id, fee],
      [byKind('AVAILABLE').id, -amount],
    ];
    await c.query(
      `update ledger_account a set balance = a.balance + d.delta from unnest($1::bigint[], $2::bigint[]) as d(id, delta)
        where a.id = d.id and (a.balance + d.delta >= 0 or a.kind = 'PROVIDER_CLEARING') returning a.id`,
      [deltas.map((d) => d[0]), deltas.map((d) => d[1])],
    );
    const after = deltas.map(([id, d]) => Number(accounts.find((a) => a.id === id)!.balance) + d);
    await c.query(
      `insert into ledger_entry (posting_id, account_id, amount, balance_after, kind, reference)
       select $1, u.a, u.m, u.b, u.k, u.r from unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) with ordinality as u(a, m, b, k, r, n) order by u.n`,
      [
        posting,
        deltas.map((d) => d[0]),
        deltas.map((d) => d[1]),
        after,
        ['SALE', 'PLATFORM_FEE', 'PURCHASE'],
        deltas.map(() => `payment:${paymentId}`),
      ],
    );
    await c.query('select * from payment where id = $1', [paymentId]);
    await c.query('commit');
  } catch (e) {
    await c.query('rollback');
    throw e;
  } finally {
    c.release();
  }
}

/**
 * Checkout and pay by balance, per second, at 50 concurrent clients: this server over HTTP against
 * the same two transactions on raw `pg`. Every payment posts to the platform's fee account, one
 * row all payments share, which is what bounds both.
 */
export async function paymentBench(serverUrl: string): Promise<void> {
  const url = await freshDatabase(serverUrl, 'bench_payment');
  const pool = new Pool({ connectionString: url, max: 20 });
  const children: ChildProcess[] = [];
  try {
    await pool.query(
      'create table bench_job (id bigserial primary key, name text, data jsonb, start_after timestamptz default now())',
    );
    const variants = await seedVariants(pool);
    const { child: app, gqlUrl } = await startBenchServer({
      DATABASE_URL: url,
      PLATFORM_FEE_BPS: String(FEE_BPS),
    });
    children.push(app);

    const customers: { id: string; token: string }[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const r = await post(
        gqlUrl,
        JSON.stringify({
          query: `mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token viewer { id } } } }`,
          variables: {
            i: {
              email: `pay-${i}-${randomBytes(3).toString('hex')}@example.com`,
              password: 'bench-password',
              name: `Payer ${i}`,
            },
          },
        }),
      );
      customers.push({ id: r.data.signUp.viewer.id, token: r.data.signUp.token });
    }
    await fund(
      pool,
      customers.map((c) => c.id),
      1_000_000_000,
    );
    // The merchant's escrow exists from its first sale on; both runs start after it.
    await pool.query(
      `insert into ledger_account (owner_type, owner_id, kind) select 'MERCHANT', id, 'ESCROW' from merchant on conflict do nothing`,
    );

    const rows: Measured[] = [];
    const rawCarts = await makeCarts(pool, 20_000, (i) => variants[i % variants.length]);
    let rc = 0;
    const raw = await closedLoop(CONCURRENCY, DURATION * 1000, async () => {
      const i = rc++;
      if (i >= rawCarts.length) return false;
      const buyer = customers[i % CUSTOMERS].id;
      const checkoutId = await rawCheckout(pool, buyer, rawCarts[i]);
      await rawPay(pool, buyer, checkoutId);
      return true;
    });
    rows.push({
      name: 'raw pg: checkout and balance payment transactions',
      ...raw,
      sqlPerRequest: 7 + 24,
      peakRssMb: '-',
    });

    const carts = await makeCarts(pool, 10_000, (i) => variants[i % variants.length]);
    let ac = 0;
    let sql = NaN;
    const ours = await closedLoop(CONCURRENCY, DURATION * 1000, async () => {
      const i = ac++;
      if (i >= carts.length) return false;
      const c = customers[i % CUSTOMERS];
      const ck = await post(
        gqlUrl,
        JSON.stringify({
          query: CHECKOUT,
          variables: { i: { cartId: carts[i], idempotencyKey: `ck-${i}`, shippingAddress: ADDRESS } },
        }),
        c.token,
      );
      if (ck.data?.checkoutCreate?.__typename !== 'Checkout') throw new Error(JSON.stringify(ck));
      const pay = await post(
        gqlUrl,
        JSON.stringify({ query: PAY, variables: { c: ck.data.checkoutCreate.id, k: `pay-${i}` } }),
        c.token,
      );
      if (pay.data?.paymentStart?.status !== 'SUCCEEDED') throw new Error(JSON.stringify(pay));
      if (Number.isNaN(sql)) sql = ck.extensions.sqlStatements + pay.extensions.sqlStatements;
      return true;
    });
    rows.push({
      name: 'this server (HTTP + GraphQL): checkoutCreate + paymentStart(BALANCE)',
      ...ours,
      sqlPerRequest: sql,
      peakRssMb: peakRssMb(app.pid!),
    });

    const [{ bad }] = (
      await pool.query(
        `select count(*)::int as bad from ledger_account where balance < 0 and kind <> 'PROVIDER_CLEARING'`,
      )
    ).rows;
    if (bad !== 0) throw new Error('a balance went negative during the benchmark');
    table(
      `Checkout and pay by balance: ${CONCURRENCY} concurrent clients, one line per checkout, ${DURATION} s per run`,
      rows,
      rows[0],
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await pool.end();
    await new Promise((r) => setTimeout(r, 1000));
  }
}
