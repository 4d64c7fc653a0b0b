import { Pool } from 'pg';
import { createTestDatabase } from '../support/db';

/**
 * A product's aggregates of its variants (units sold, price range, in stock, attribute pairs) stay
 * exact while sales move `sold` by difference (migration 20261205010000) and other changes
 * rebuild them: concurrent sales, sales that empty a variant, returns, price and attribute changes.
 */
describe('product aggregates under concurrent stock movements', () => {
  let db: { url: string; drop(): Promise<void> };
  let pool: Pool;
  let product: string;
  let variants: string[];

  const q = async (text: string, params: unknown[] = []) => (await pool.query(text, params)).rows;

  /** The product's stored aggregates next to a full recount from its variants. */
  const storedAndRecounted = async () => {
    const [row] = await q(
      `select p.sold_total::int as sold_total, p.in_stock, p.price_min::int as price_min, p.price_max::int as price_max, p.attrs,
              (select sum(sold)::int from variant where product_id = p.id) as sold,
              (select bool_or(on_hand - reserved - sold > 0) from variant where product_id = p.id) as any_in_stock,
              (select min(price)::int from variant where product_id = p.id) as min_price,
              (select max(price)::int from variant where product_id = p.id) as max_price,
              (select array_agg(distinct (e->>'name') || '=' || (e->>'value') order by (e->>'name') || '=' || (e->>'value'))
                 from variant v, jsonb_array_elements(v.attributes) e where v.product_id = p.id) as pairs
         from product p where p.id = $1`,
      [product],
    );
    return {
      stored: {
        sold: row.sold_total,
        inStock: row.in_stock,
        min: row.price_min,
        max: row.price_max,
        attrs: row.attrs,
      },
      recount: {
        sold: row.sold,
        inStock: row.any_in_stock,
        min: row.min_price,
        max: row.max_price,
        attrs: row.pairs,
      },
    };
  };

  /** One sale of `n` units as checkout and payment make it: reserve, then convert to sold. */
  const sell = async (variant: string, n: number): Promise<boolean> => {
    const c = await pool.connect();
    try {
      await c.query('begin');
      const taken = await c.query(
        'update variant set reserved = reserved + $1 where id = $2 and on_hand - reserved - sold >= $1 returning id',
        [n, variant],
      );
      if (taken.rowCount !== 1) {
        await c.query('rollback');
        return false;
      }
      await c.query('commit');
      // Payment: reserved units become sold, in a transaction that stays open a moment (as a
      // payment's does while the ledger posts), so concurrent changes of the product overlap.
      await c.query('begin');
      await c.query('update variant set reserved = reserved - $1, sold = sold + $1 where id = $2', [
        n,
        variant,
      ]);
      await c.query('select pg_sleep(0.005)');
      await c.query('commit');
      return true;
    } finally {
      c.release();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new Pool({ connectionString: db.url, max: 20 });
    const [m] = await q(`insert into merchant (name) values ('Aggregates') returning id`);
    [{ id: product }] = await q(
      `insert into product (merchant_id, title, description) values ($1, 'Socks', 'Warm') returning id`,
      [m.id],
    );
    variants = (
      await q(
        `insert into variant (product_id, merchant_id, sku, title, price, on_hand, attributes)
         select $1, $2, 'AGG-' || g, 'Size ' || g, 1000 + g * 100, case when g = 1 then 7 else 500 end,
                jsonb_build_array(jsonb_build_object('name', 'size', 'value', g::text))
           from generate_series(1, 3) g returning id`,
        [product, m.id],
      )
    ).map((r) => String(r.id));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('matches a recount after rounds of concurrent sales, sell-outs, returns and catalog edits', async () => {
    // Variant 1 holds 7 units: 40 one-unit sales race for them and it goes out of stock.
    const sales = await Promise.all(
      Array.from({ length: 120 }, (_, i) => sell(variants[i % 3], i % 3 === 0 ? 1 : 1 + (i % 4))),
    );
    expect(sales.filter((ok, i) => ok && i % 3 === 0)).toHaveLength(7);
    let { stored, recount } = await storedAndRecounted();
    expect(stored).toEqual(recount);
    expect(stored.sold).toBeGreaterThan(7);

    // More rounds of sales of the two variants still in stock: each round is a fresh race.
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 60 }, (_, i) => sell(variants[1 + (i % 2)], 1)));
      ({ stored, recount } = await storedAndRecounted());
      expect(stored).toEqual(recount);
    }

    // A return (sold goes down, stock back), a restock of the sold-out variant, a price and an
    // attribute change, racing further sales.
    await Promise.all([
      q('update variant set sold = sold - 2, on_hand = on_hand - 0 where id = $1', [variants[1]]),
      q('update variant set on_hand = on_hand + 3 where id = $1', [variants[0]]),
      q('update variant set price = 99 where id = $1', [variants[2]]),
      q(`update variant set attributes = '[{"name":"size","value":"XL"}]' where id = $1`, [variants[2]]),
      ...Array.from({ length: 30 }, (_, i) => sell(variants[i % 3], 1)),
    ]);
    ({ stored, recount } = await storedAndRecounted());
    expect(stored).toEqual(recount);
    expect(stored.min).toBe(99);
    expect(stored.attrs).toContain('size=XL');
  });
});
