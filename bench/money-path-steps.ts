import { randomBytes } from 'node:crypto';
import { PostgreSqlPlatform } from '@mikro-orm/postgresql';
import type { Pool, PoolClient } from 'pg';
import { toKnexBindings } from '../src/db/sql';
import { ADD_LINES_SQL, CUSTOMER_CART_SQL } from '../src/modules/cart/cart.add.sql';
import { CLAIM_AND_READ_CART_SQL } from '../src/modules/checkout/checkout.sql';
import { partsWithFee } from '../src/modules/ledger/ledger';
import { POST_SQL, postParams } from '../src/modules/ledger/posting';
import { allocateStripes, purchaseWithBalancePosting } from '../src/modules/ledger/postings';
import { WRITE_CHECKOUT_SQL } from '../src/modules/order/order.store';
import { CLAIM_AND_READ_SQL, SETTLE_SQL } from '../src/modules/payment/balance-payment';
import { oneLineCheckoutParams } from './checkout';

/**
 * The money path's three steps (cartCreate signed in, checkoutCreate, paymentStart(BALANCE)) as a
 * bare `pg` program makes them: the service's very statements (cart.add.sql.ts, checkout.sql.ts,
 * order.store.ts, balance-payment.ts, ledger/posting.ts), one transaction per step, nothing else.
 * Used in-process by bench/money-path.ts and behind HTTP by bench/money-path-baseline-server.ts.
 * Jobs go to a plain `bench_job` table (the server's go to pg-boss).
 */

export const PLATFORM_FEE_BPS = 500;

const platform = new PostgreSqlPlatform();

/**
 * A statement as the server sends it (src/db/sql.ts, direct-sql.ts): values inlined by MikroORM's
 * formatter, simple protocol. Bound parameters would type a `$n` used both as text and as bigint
 * differently from the literal the server sends.
 */
function run(c: PoolClient, sql: string, params: unknown[]) {
  const { text, bindings } = toKnexBindings(sql, params);
  return c.query(platform.formatQuery(text, bindings as any[]));
}

async function inTx<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('begin');
    const r = await fn(c);
    await c.query('commit');
    return r;
  } catch (e) {
    await c.query('rollback');
    throw e;
  } finally {
    c.release();
  }
}

/** A bench_job table beside the schema, for the raw steps' jobs. */
export const CREATE_JOB_TABLE =
  'create table if not exists bench_job (id bigserial primary key, name text, data jsonb, start_after timestamptz default now())';

/** cartCreate (signed in): lock or create the buyer's active cart, add one unit of `variant`. */
export function rawCart(pool: Pool, buyerId: string, variant: string): Promise<string> {
  return inTx(pool, async (c) => {
    const [cart] = (await run(c, CUSTOMER_CART_SQL, [randomBytes(16).toString('base64url'), buyerId])).rows;
    const [added] = (await run(c, ADD_LINES_SQL, [cart.id, [variant], [1], 100, 100])).rows;
    if (!added.ok) throw new Error('cart refused');
    return cart.id as string;
  });
}

/** checkoutCreate: claim the key and read the cart, write checkout and order, queue the jobs, reserve. */
export function rawCheckout(pool: Pool, buyerId: string, cartId: string, key: string): Promise<string> {
  return inTx(pool, async (c) => {
    const [l] = (await run(c, CLAIM_AND_READ_CART_SQL, [cartId, buyerId, key, 'h'])).rows;
    const id = l.claimed_ref as string;
    const deadline = new Date(Date.now() + 3600_000);
    await run(
      c,
      WRITE_CHECKOUT_SQL,
      oneLineCheckoutParams({
        checkoutId: id,
        buyerId,
        cartId,
        line: l,
        unitPrice: Number(l.price),
        subtotal: Number(l.price) * l.quantity,
        shippingFee: 0,
        deadline,
      }),
    );
    await run(
      c,
      `insert into bench_job (name, data, start_after) values ('snapshot.write', $1, now()), ('order.expire', $2, $3)`,
      [JSON.stringify(l), JSON.stringify({ checkoutId: id }), deadline],
    );
    const taken = await run(
      c,
      'update variant set reserved = reserved + $1 where id = $2 and on_hand - reserved - sold >= $1 returning id',
      [l.quantity, l.variant_id],
    );
    if (taken.rowCount !== 1) throw new Error('out of stock');
    return id;
  });
}

/** paymentStart(BALANCE): claim the key and read the orders, settle them, post to the ledger. */
export function rawPay(pool: Pool, buyerId: string, checkoutId: string, key: string): Promise<string> {
  return inTx(pool, async (c) => {
    const [seen] = (await run(c, CLAIM_AND_READ_SQL, [buyerId, key, 'h', checkoutId])).rows;
    const orders = seen.orders as { id: string; total: number; merchantId: string }[];
    const amount = orders.reduce((s, o) => s + Number(o.total), 0);
    const [payment] = (
      await run(c, SETTLE_SQL, [
        seen.payment_id,
        buyerId,
        checkoutId,
        amount,
        null,
        orders.map((o) => o.id),
        orders.map((o) => Number(o.total)),
      ])
    ).rows;
    if (payment.paid !== orders.length) throw new Error('not paid');
    const posting = purchaseWithBalancePosting({
      buyerId,
      reference: `payment:${payment.id}`,
      parts: partsWithFee(
        orders.map((o) => ({
          merchantId: o.merchantId,
          amount: Number(o.total),
          reference: `order:${o.id}`,
        })),
        PLATFORM_FEE_BPS,
      ),
    });
    const [r] = (await run(c, POST_SQL, postParams(posting, allocateStripes(posting, new Map())))).rows;
    if (!r.posting_id || !r.covered) throw new Error(`not posted: ${JSON.stringify(r)}`);
    return payment.status as string;
  });
}
