import type { MikroORM } from '@mikro-orm/postgresql';
import { connectOrm } from '../../src/db/orm';
import { sqlAll } from '../../src/db/sql';
import { sqlCounterStorage } from '../../src/db/sql-stats';
import { entities } from '../../src/modules/entities';
import { createTestDatabase } from '../support/db';

/**
 * Raw statements skip the ORM's and knex's per-query machinery (src/db/direct-sql.ts) but must
 * behave exactly as before: same text to PostgreSQL, same rows, statements counted and announced,
 * transactions honoured, errors carrying the statement and the SQLSTATE.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let orm: MikroORM;
const announced: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  orm = (await connectOrm({ url: db.url, entities })) as unknown as MikroORM;
  const knex = (orm.em.getConnection('write') as unknown as { getKnex(): any }).getKnex();
  knex.on('query', (q: { sql: string }) => announced.push(q.sql));
  await sqlAll(
    orm.em.fork() as any,
    'create table direct_sql_probe (id int primary key, note text, made_at timestamptz)',
  );
});
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

test('rows come back typed as before, with the values inlined as MikroORM inlines them', async () => {
  announced.length = 0;
  const counter = { statements: 0 };
  const rows = await sqlCounterStorage.run(counter, () =>
    sqlAll<{ n: number; ids: string[]; s: string; made_at: Date }>(
      orm.em.fork() as any,
      `select $1::int as n, $2::bigint[]::text[] as ids, $3::text as s, now() as made_at`,
      [7, ['1', '2'], "it's"],
      true,
    ),
  );
  expect(rows).toEqual([{ n: 7, ids: ['1', '2'], s: "it's", made_at: expect.any(Date) }]);
  expect(counter.statements).toBe(1);
  expect(announced).toEqual([
    `select 7::int as n, '{"1","2"}'::bigint[]::text[] as ids, 'it''s'::text as s, now() as made_at`,
  ]);
});

test('statements of a transaction run in it: a rollback undoes them', async () => {
  const em = orm.em.fork() as any;
  await expect(
    em.transactional(async (tx: any) => {
      await sqlAll(tx, 'insert into direct_sql_probe (id, note) values ($1, $2)', [1, 'inside']);
      const [seen] = await sqlAll<{ n: number }>(tx, 'select count(*)::int as n from direct_sql_probe');
      expect(seen.n).toBe(1);
      throw new Error('roll back');
    }),
  ).rejects.toThrow('roll back');
  const [after] = await sqlAll<{ n: number }>(
    orm.em.fork() as any,
    'select count(*)::int as n from direct_sql_probe',
  );
  expect(after.n).toBe(0);
});

test('a failed statement names itself and keeps its SQLSTATE; the connection goes back to the pool', async () => {
  await sqlAll(orm.em.fork() as any, 'insert into direct_sql_probe (id, note) values ($1, $2)', [2, 'first']);
  const failure = await sqlAll(
    orm.em.fork() as any,
    'insert into direct_sql_probe (id, note) values ($1, $2)',
    [2, 'again'],
  ).catch((e) => e);
  expect(failure.code).toBe('23505');
  expect(failure.message).toMatch(
    /^insert into direct_sql_probe \(id, note\) values \(2, 'again'\) - duplicate key value violates unique constraint/,
  );
  // Every pooled connection still works (none was left checked out by the failure).
  const all = await Promise.all(
    Array.from({ length: 12 }, () => sqlAll<{ one: number }>(orm.em.fork() as any, 'select 1 as one')),
  );
  expect(all.flat()).toHaveLength(12);
});

test('values holding ? and $1 are stored as given (a return URL with a query string)', async () => {
  const em = orm.em.fork() as any;
  const notes = ['https://shop.example.com/done?step=3&x=?', 'price $1 ?? \\? end'];
  for (const [i, note] of notes.entries())
    await sqlAll(em, 'insert into direct_sql_probe (id, note) values ($1, $2)', [100 + i, note]);
  const rows = await sqlAll<{ note: string }>(
    em,
    'select note from direct_sql_probe where id >= 100 and note = any($1::text[]) order by id',
    [notes],
  );
  expect(rows.map((r) => r.note)).toEqual(notes);
});
