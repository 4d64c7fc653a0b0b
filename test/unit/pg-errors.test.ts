import { DriverException, LockWaitTimeoutException, ReadOnlyException } from '@mikro-orm/core';
import { GraphQLError } from 'graphql';
import pino from 'pino';
import { sqlStateOf, unavailableReason } from '../../src/db/pg-errors';
import { makeFormatError } from '../../src/server/errors';

/** A `pg` DatabaseError as the driver raises it (message, SQLSTATE in `code`). */
const pgError = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code });

describe('unavailableReason: outages are told apart from defects', () => {
  test.each([
    ['08006', 'connection'],
    ['08001', 'connection'],
    ['57P01', 'shutdown'],
    ['57P02', 'shutdown'],
    ['57P03', 'shutdown'],
    ['53300', 'resources'],
    ['53100', 'resources'],
    ['25006', 'read-only'],
    ['55P03', 'lock-timeout'],
    ['57014', 'statement-timeout'],
    ['25P03', 'idle-timeout'],
    ['40P01', 'contention'],
  ])('SQLSTATE %s → %s', (code, reason) => {
    expect(unavailableReason(pgError(code))).toBe(reason);
  });

  test.each([['23505'], ['23503'], ['42P01'], ['22P02'], ['P0001']])(
    'SQLSTATE %s is a defect or bad input',
    (code) => {
      expect(unavailableReason(pgError(code))).toBeNull();
    },
  );

  test('errors without a SQLSTATE: sockets, the driver, the pool', () => {
    expect(
      unavailableReason(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5'), { code: 'ECONNREFUSED' }),
      ),
    ).toBe('connection');
    expect(unavailableReason(new Error('Connection terminated unexpectedly'))).toBe('connection');
    expect(unavailableReason(new Error('Connection terminated due to connection timeout'))).toBe(
      'connection',
    );
    expect(unavailableReason(new Error('Query read timeout'))).toBe('query-timeout');
    const knexTimeout = Object.assign(
      new Error(
        'Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?',
      ),
      { name: 'KnexTimeoutError' },
    );
    expect(unavailableReason(knexTimeout)).toBe('pool-timeout');
    expect(unavailableReason(new Error('Cannot read properties of undefined'))).toBeNull();
    expect(unavailableReason(undefined)).toBeNull();
  });

  test('through MikroORM and GraphQL wrappers', () => {
    const wrapped = new LockWaitTimeoutException(pgError('55P03', 'canceling statement due to lock timeout'));
    expect(sqlStateOf(wrapped)).toBe('55P03');
    expect(unavailableReason(wrapped)).toBe('lock-timeout');
    expect(unavailableReason(new ReadOnlyException(pgError('25006')))).toBe('read-only');
    expect(unavailableReason(new DriverException(new Error('Query read timeout')))).toBe('query-timeout');
    const inGraphQL = new GraphQLError('x', { originalError: new DriverException(pgError('57P01')) });
    expect(unavailableReason(inGraphQL)).toBe('shutdown');
    expect(unavailableReason(new Error('outer', { cause: pgError('08006') }))).toBe('connection');
  });
});

describe('formatError', () => {
  const format = makeFormatError(pino({ level: 'silent' }));

  test('an outage: SERVICE_UNAVAILABLE, retryable, no internals', () => {
    const err = new GraphQLError('select … - canceling statement due to lock timeout', {
      path: ['checkoutCreate'],
      originalError: pgError('55P03', 'select secret_table - canceling statement due to lock timeout'),
    });
    const out = format(err.toJSON(), err);
    expect(out).toEqual({
      message: expect.stringMatching(/temporarily unavailable.*same idempotency key/),
      path: ['checkoutCreate'],
      extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true, reason: 'lock-timeout' },
    });
    expect(JSON.stringify(out)).not.toMatch(/secret_table/);
  });

  test('a defect stays INTERNAL_SERVER_ERROR', () => {
    const err = new GraphQLError('boom', { originalError: pgError('23505', 'duplicate key') });
    expect(format(err.toJSON(), err).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });
});
