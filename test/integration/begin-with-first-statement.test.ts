import { Client } from 'pg';
import { connectOrm } from '../../src/db/orm';
import { beginWithFirstStatement } from '../../src/db/pg-settings';
import { sqlAll } from '../../src/db/sql';
import { inTransaction } from '../../src/db/transaction';
import { entities } from '../../src/modules/entities';
import { createTestDatabase } from '../support/db';

/*
 * A transaction's BEGIN travels with its first statement (src/db/pg-settings.ts): one round trip
 * less per transaction, and the same statements, in the same order, with the same effects.
 */

let db: { url: string; drop(): Promise<void> };
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/** A client whose messages to the server are recorded (what each underlying query sent). */
async function recordingClient() {
  const c = new Client({ connectionString: db.url });
  await c.connect();
  const sent: string[] = [];
  const query = c.query.bind(c) as (...a: unknown[]) => unknown;
  (c as any).query = (...a: unknown[]) => {
    const first = a[0] as string | { text: string };
    sent.push(typeof first === 'string' ? first : first.text);
    return query(...a);
  };
  beginWithFirstStatement(c as any);
  return { c: c as any, sent };
}

test('BEGIN goes with the first statement; the answer is the statement’s own', async () => {
  const { c, sent } = await recordingClient();
  try {
    expect((await c.query('BEGIN;')).command).toBe('BEGIN');
    expect(sent).toEqual([]);
    const r = await c.query('select 1 as x');
    expect(r.rows).toEqual([{ x: 1 }]);
    // Inside a transaction block: a transaction id is assigned and kept until the commit.
    const a = await c.query('select txid_current() as id');
    const b = await c.query('select txid_current() as id');
    expect(a.rows[0].id).toBe(b.rows[0].id);
    await c.query('COMMIT;');
    expect(sent).toEqual([
      'BEGIN;\nselect 1 as x',
      'select txid_current() as id',
      'select txid_current() as id',
      'COMMIT;',
    ]);
  } finally {
    await c.end();
  }
});

test('a rollback undoes the first statement; a failed first statement leaves the connection usable', async () => {
  const { c, sent } = await recordingClient();
  try {
    await c.query('create table t_begin (id int primary key)');
    await c.query('BEGIN;');
    await c.query('insert into t_begin values (1)');
    await c.query('ROLLBACK;');
    expect((await c.query('select count(*)::int as n from t_begin')).rows[0].n).toBe(0);

    await c.query('BEGIN;');
    await expect(c.query('insert into t_begin values (null)')).rejects.toThrow(/null value/);
    await c.query('ROLLBACK;');
    expect((await c.query('select 2 as x')).rows).toEqual([{ x: 2 }]);
    expect(sent).toContain('ROLLBACK;');
  } finally {
    await c.end();
  }
});

test('bound values, callbacks, several statements and empty transactions', async () => {
  const { c, sent } = await recordingClient();
  try {
    // With bound values (extended protocol, one statement per message): BEGIN is sent on its own.
    await c.query('BEGIN;');
    const r = await c.query('select $1::int + 1 as x', [41]);
    expect(r.rows).toEqual([{ x: 42 }]);
    await c.query('COMMIT;');
    expect(sent.slice(-3)).toEqual(['BEGIN;', 'select $1::int + 1 as x', 'COMMIT;']);

    // knex's form: a config and a callback; a text of two statements answers two results.
    await new Promise((resolve, reject) =>
      c.query({ text: 'BEGIN;', values: [] }, (err: unknown) => (err ? reject(err) : resolve(null))),
    );
    const two: any = await new Promise((resolve, reject) =>
      c.query({ text: 'select 1 as a; select 2 as b', values: [] }, (err: unknown, res: unknown) =>
        err ? reject(err) : resolve(res),
      ),
    );
    expect(two.map((x: any) => x.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]]);
    await c.query('COMMIT;');

    // Only a text that is BEGIN alone waits: one that starts with BEGIN and goes on is sent as it is.
    const both: any = await c.query('BEGIN; select 3 as x');
    expect(both[1].rows).toEqual([{ x: 3 }]);
    await c.query('COMMIT;');
    expect(sent.slice(-2)).toEqual(['BEGIN; select 3 as x', 'COMMIT;']);

    // A transaction that ends before any statement sends nothing at all.
    const before = sent.length;
    await c.query('BEGIN;');
    await c.query('COMMIT;');
    expect(sent.length).toBe(before);
  } finally {
    await c.end();
  }
});

test('the ORM’s transactions send BEGIN with their first statement', async () => {
  const spy = jest.spyOn(Client.prototype, 'query');
  const orm = await connectOrm({ url: db.url, entities, poolSize: 1 });
  try {
    const rows = await inTransaction(orm.em.fork() as any, (tx) =>
      sqlAll<{ x: number }>(tx, 'select 7 as x'),
    );
    expect(rows).toEqual([{ x: 7 }]);
    const texts = spy.mock.calls.map(([q]) => (typeof q === 'string' ? q : (q as { text: string }).text));
    const at = texts.findIndex((q) => /select 7 as x/.test(q));
    expect(texts[at]).toMatch(/^BEGIN[^\n]*;\nselect 7 as x$/);
    expect(texts.filter((q) => /^BEGIN/.test(q) && !q.includes('\n'))).toEqual([]);
    expect(texts[at + 1]).toMatch(/^COMMIT/);
  } finally {
    spy.mockRestore();
    await orm.close(true);
  }
});
