import type { MikroORM } from '@mikro-orm/core';
import { connectOrm } from '../../src/db/orm';
import { sqlAll, sqlPrepared } from '../../src/db/sql';
import { inTransaction } from '../../src/db/transaction';
import { entities } from '../../src/modules/entities';
import { createTestDatabase } from '../support/db';

/*
 * The money path's hot statements run as named prepared statements (sqlPrepared,
 * src/db/direct-sql.ts): planned once per pooled connection, with the same answers as the inlined
 * text sqlAll sends; DB_PREPARED_STATEMENTS=false sends the inlined text instead.
 */

let db: { url: string; drop(): Promise<void> };
const orms: MikroORM[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const orm of orms) await orm.close(true);
  await db?.drop();
});

/** An ORM with one connection, so what a statement leaves in the session can be read back. */
async function oneConnection(preparedStatements?: boolean) {
  const orm = await connectOrm({ url: db.url, entities, poolSize: 1, preparedStatements });
  orms.push(orm);
  return () => orm.em.fork() as any;
}

const SQL = `select $1::bigint[] as ids, $2::text as t, $3::timestamptz as placed_at, $4::jsonb as doc,
                    $5::int + 1 as n, $6::text[] as words`;
const PARAMS = [
  ['1', '9007199254740993'],
  `it's "quoted"? $1 \\ ünïcode`,
  new Date('2026-12-05T03:30:00.123Z'),
  JSON.stringify({ a: [1, null, 'x?'], b: "o'k" }),
  41,
  ['a,b', 'c"d', '', 'null'],
];

test('answers as the inlined statement does, and is planned once per connection', async () => {
  const em = await oneConnection();
  const inlined = await sqlAll(em(), SQL, PARAMS);
  const prepared = await sqlPrepared(em(), SQL, PARAMS);
  expect(prepared).toEqual(inlined);
  expect(prepared[0]).toMatchObject({ ids: ['1', '9007199254740993'], t: PARAMS[1], n: 42 });
  expect((prepared[0] as any).placed_at.toISOString()).toBe('2026-12-05T03:30:00.123Z');

  // Inside a transaction too; nine more runs: from the sixth on PostgreSQL keeps the generic plan.
  await inTransaction(em(), async (tx) => {
    for (let i = 0; i < 9; i++) await sqlPrepared(tx, SQL, PARAMS);
  });
  const [p] = await sqlAll<{ n: number; generic_plans: string; custom_plans: string }>(
    em(),
    `select count(*) over () as n, generic_plans, custom_plans from pg_prepared_statements where statement like '%as words%'`,
  );
  expect(Number(p.n)).toBe(1);
  expect(Number(p.generic_plans) + Number(p.custom_plans)).toBe(10);
  expect(Number(p.generic_plans)).toBeGreaterThan(0);
});

test('a failing prepared statement names its text; the transaction rolls back', async () => {
  const em = await oneConnection();
  await sqlAll(em(), 'create table t_prep (id int primary key)');
  await expect(
    inTransaction(em(), async (tx) => {
      await sqlAll(tx, 'insert into t_prep values (1)');
      await sqlPrepared(tx, 'insert into t_prep values ($1::int)', [1]);
    }),
  ).rejects.toThrow(/insert into t_prep values \(\$1::int\) - duplicate key/);
  expect(await sqlAll(em(), 'select * from t_prep')).toEqual([]);
});

test('DB_PREPARED_STATEMENTS=false: the same answers from the inlined text, nothing prepared', async () => {
  const em = await oneConnection(false);
  expect(await sqlPrepared(em(), SQL, PARAMS)).toEqual(await sqlAll(em(), SQL, PARAMS));
  expect(await sqlAll(em(), 'select name from pg_prepared_statements')).toEqual([]);
});
