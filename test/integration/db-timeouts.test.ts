import { Client } from 'pg';
import { sqlAll } from '../../src/db/sql';
import { connectOrm } from '../../src/db/orm';
import { entities } from '../../src/modules/entities';
import { unavailableReason } from '../../src/db/pg-errors';
import { startTestApp, type TestApp } from '../support/app';
import { wsClient } from '../support/ws';
import { signUpCustomer } from '../factories/catalog';

/**
 * Issue 9, defect 2: no timeouts toward the database. Every client the server opens (the ORM's
 * pool, the relay's own connection, pg-boss) now carries statement_timeout, lock_timeout and
 * idle_in_transaction_session_timeout, a connect timeout, keep-alive and a client-side query
 * timeout that discards a connection whose server stopped answering.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    DB_STATEMENT_TIMEOUT_MS: '4000',
    DB_LOCK_TIMEOUT_MS: '300',
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '6000',
    DB_QUERY_TIMEOUT_MS: '5000',
    DB_POOL_ACQUIRE_TIMEOUT_MS: '2000',
    DB_CONNECT_TIMEOUT_MS: '2000',
  });
});
afterAll(async () => {
  await t?.stop();
});

const em = () => t.app.orm.em.fork() as any;
const show = async (q: (sql: string) => Promise<{ rows: any[] } | any[]>) => {
  const out: Record<string, string> = {};
  for (const name of ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout']) {
    const r = await q(`show ${name}`);
    out[name] = (Array.isArray(r) ? r : r.rows)[0][name];
  }
  return out;
};
const EXPECTED = {
  statement_timeout: '4s',
  lock_timeout: '300ms',
  idle_in_transaction_session_timeout: '6s',
};

test('the pool, the relay and pg-boss sessions carry the configured timeouts', async () => {
  expect(await show((q) => sqlAll(em(), q))).toEqual(EXPECTED);
  const relayClient = (t.app.relay as any).client as Client;
  expect(await show((q) => relayClient.query(q))).toEqual(EXPECTED);
  const boss = (t.app.services.jobs as any).boss;
  // pg-boss waits on advisory locks other nodes hold during install and maintenance: no lock_timeout.
  expect(await show((q) => boss.getDb().executeSql(q))).toEqual({ ...EXPECTED, lock_timeout: '0' });
});

test('migrations and admin scripts get connections without the request timeouts', async () => {
  const admin = await connectOrm({
    url: t.app.config.databaseUrl!,
    entities,
    poolSize: 1,
    timeouts: t.app.config.dbTimeouts,
    admin: true,
  });
  try {
    const s = await show((q) => sqlAll(admin.em.fork() as any, q));
    expect(s).toEqual({
      statement_timeout: '0',
      lock_timeout: '0',
      idle_in_transaction_session_timeout: '6s',
    });
  } finally {
    await admin.close(true);
  }
});

test('a row lock held elsewhere fails the waiting statement after lock_timeout, as an outage', async () => {
  const other = new Client({ connectionString: t.app.config.databaseUrl });
  await other.connect();
  try {
    await other.query('begin');
    await other.query('lock table app_user in access exclusive mode');
    const started = Date.now();
    const err = await sqlAll(em(), 'select count(*) from app_user').catch((e) => e);
    const ms = Date.now() - started;
    expect(unavailableReason(err)).toBe('lock-timeout');
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3000);
  } finally {
    await other.query('rollback').catch(() => undefined);
    await other.end();
  }
});

test('a server that does not answer: the query fails at the client timeout and its connection is replaced', async () => {
  // pg_sleep stands in for a frozen server: with no statement_timeout in this session, only the
  // client-side timeout (5 s here) ends the wait.
  const conn = t.app.orm.em.getConnection();
  const knex = (conn as any).getKnex();
  const started = Date.now();
  const err = await knex
    .transaction(async (trx: any) => {
      await trx.raw('set local statement_timeout = 0');
      await trx.raw('select pg_sleep(30)');
    })
    .catch((e: unknown) => e);
  const ms = Date.now() - started;
  expect(unavailableReason(err)).not.toBeNull();
  expect(ms).toBeGreaterThanOrEqual(4500);
  expect(ms).toBeLessThan(9000);
  // The pool hands out working connections right after (the stuck one was closed, not reused).
  const again = Date.now();
  const rows = await Promise.all(
    Array.from({ length: 12 }, () => sqlAll<{ ok: number }>(em(), 'select 1 as ok')),
  );
  expect(rows.every((r) => r[0].ok === 1)).toBe(true);
  expect(Date.now() - again).toBeLessThan(3000);
  // pg_sleep notices a closed client only when it ends or is signalled: cancel it, leave nothing behind.
  const check = new Client({ connectionString: t.app.config.databaseUrl });
  await check.connect();
  try {
    await check.query(
      `select pg_cancel_backend(pid) from pg_stat_activity where query = 'select pg_sleep(30)'`,
    );
  } finally {
    await check.end();
  }
});

describe('an outage reaches clients as SERVICE_UNAVAILABLE, not as a defect', () => {
  const CART_CREATE = `mutation { cartCreate(lines: []) { __typename ... on Cart { id } } }`;

  /** Runs `fn` while another session holds an exclusive lock on the cart table. */
  async function whileCartLocked<T>(fn: () => Promise<T>): Promise<T> {
    const other = new Client({ connectionString: t.app.config.databaseUrl });
    await other.connect();
    try {
      await other.query('begin');
      await other.query('lock table cart in access exclusive mode');
      return await fn();
    } finally {
      await other.query('rollback').catch(() => undefined);
      await other.end();
    }
  }

  test('over HTTP: 503 with Retry-After, extensions.code SERVICE_UNAVAILABLE and retryable', async () => {
    const res = await whileCartLocked(() =>
      fetch(t.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: CART_CREATE }),
      }),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    const body = (await res.json()) as any;
    expect(body.errors).toEqual([
      expect.objectContaining({
        path: ['cartCreate'],
        extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true, reason: 'lock-timeout' },
      }),
    ]);
    // Once the lock is gone the same request succeeds, on the same server.
    expect((await t.gql(CART_CREATE)).data.cartCreate.__typename).toBe('Cart');
  });

  test('over graphql-ws: the same code on the error', async () => {
    // Mutations over WebSocket need a signed-in socket.
    const ws = wsClient(t.url, (await signUpCustomer(t.gql)).token);
    try {
      const result = await whileCartLocked(
        () =>
          new Promise<any>((resolve, reject) => {
            let last: any;
            ws.subscribe(
              { query: CART_CREATE },
              { next: (v) => (last = v), error: reject, complete: () => resolve(last) },
            );
          }),
      );
      expect(result.errors[0].extensions).toEqual({
        code: 'SERVICE_UNAVAILABLE',
        retryable: true,
        reason: 'lock-timeout',
      });
    } finally {
      await ws.dispose();
    }
  });
});
