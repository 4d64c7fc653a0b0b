import { DataloaderType, MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { migrationsList } from '../../migrations';
import type { DbTimeouts } from '../config';
import { withoutPreparedStatements } from './direct-sql';
import {
  adminTimeouts,
  beginWithFirstStatement,
  DEFAULT_DB_TIMEOUTS,
  discardOnReadTimeout,
  pgTimeoutSettings,
} from './pg-settings';
import { countStatement } from './sql-stats';

export interface OrmOptions {
  url: string;
  /** The entity classes (the modules' `entities` list: this layer knows no module). */
  entities: Options['entities'];
  replicaUrls?: string[];
  poolSize?: number;
  /** Where MikroORM's own messages (such as applied migrations) go. */
  logger?: (message: string) => void;
  /** Timeouts toward PostgreSQL (docs/faults.md); defaults: DEFAULT_DB_TIMEOUTS. */
  timeouts?: DbTimeouts;
  /** Migrations and admin scripts: adminTimeouts(timeouts) (long statements, unbounded lock waits). */
  admin?: boolean;
  /** Hot statements as named prepared statements (sqlPrepared); default true. */
  preparedStatements?: boolean;
}

/** The timeouts a connection opened with `opts` uses. */
function timeoutsOf(opts: OrmOptions): DbTimeouts {
  const t = opts.timeouts ?? DEFAULT_DB_TIMEOUTS;
  return opts.admin ? adminTimeouts(t) : t;
}

export function ormConfig(opts: OrmOptions): Options<PostgreSqlDriver> {
  return {
    driver: PostgreSqlDriver,
    clientUrl: opts.url,
    replicas: (opts.replicaUrls ?? []).map((clientUrl) => ({ clientUrl })),
    // MikroORM would send every find outside a transaction to a random replica, however stale (the
    // bootstrap admin was looked up on a replica that had not replayed the migrations yet). Which
    // reads may use a replica is decided in one place instead: src/db/read-routing.ts.
    preferReadReplicas: false,
    entities: opts.entities,
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false },
    allowGlobalContext: false,
    dataloader: DataloaderType.ALL,
    pool: {
      min: 1,
      max: opts.poolSize ?? 10,
      acquireTimeoutMillis: timeoutsOf(opts).poolAcquireMs,
      // Opening a connection fails after the connect timeout instead of tarn's 30 s default.
      createTimeoutMillis: timeoutsOf(opts).connectMs + 1000,
      afterCreate: (conn: any, done: (err: Error | null, conn: unknown) => void) => {
        discardOnReadTimeout(conn);
        beginWithFirstStatement(conn);
        done(null, conn);
      },
    } as Options['pool'],
    // Merged into knex's options: the connection's timeouts and knex's own acquire timeout.
    driverOptions: {
      acquireConnectionTimeout: timeoutsOf(opts).poolAcquireMs,
      connection: pgTimeoutSettings(timeoutsOf(opts)),
    },
    discovery: { warnWhenNoEntities: true },
    forceUtcTimezone: true,
    logger: opts.logger ?? (() => undefined),
    debug: process.env.ORM_DEBUG === '1' ? ['query', 'query-params'] : false,
    // Keeps identity-map bookkeeping small for read-heavy requests.
    serialization: { forceObject: true },
  };
}

const optionsOf = new WeakMap<MikroORM, OrmOptions>();

/** Connects, and counts every statement (primary and replicas) for per-request SQL statistics. */
export async function connectOrm(opts: OrmOptions): Promise<MikroORM<PostgreSqlDriver>> {
  const orm = await MikroORM.init(ormConfig(opts));
  optionsOf.set(orm, opts);
  if (opts.preparedStatements === false) withoutPreparedStatements(orm.em.getConnection('write'));
  const driver = orm.em.getDriver();
  driver.getConnection('write').getKnex().on('query', countStatement);
  // Replicas are not exposed publicly; they are knex connections like the primary.
  const replicas = (
    driver as unknown as { replicas: { getKnex(): { on(e: string, f: () => void): void } }[] }
  ).replicas;
  for (const replica of replicas) replica.getKnex().on('query', countStatement);
  return orm;
}

/** Any fixed number: the advisory lock that lets one process at a time migrate. */
const MIGRATION_LOCK = 724_301;

/**
 * Applies pending migrations. Processes starting together (a scaled-out deployment) take turns on
 * a PostgreSQL advisory lock: the first migrates, the others then find nothing pending.
 */
export async function migrate(orm: MikroORM): Promise<void> {
  const opts = optionsOf.get(orm);
  if (opts && !opts.admin) {
    // The server's connections cancel long statements and lock waits; a migration (and waiting
    // for another process's migration) must not be cut off, so it gets connections of its own.
    const admin = await connectOrm({
      url: opts.url,
      entities: opts.entities,
      poolSize: 2,
      logger: opts.logger,
      timeouts: opts.timeouts,
      admin: true,
    });
    try {
      return await migrate(admin);
    } finally {
      await admin.close();
    }
  }
  const knex = (orm.em.getDriver().getConnection('write') as unknown as { getKnex(): any }).getKnex();
  const conn = await knex.client.acquireConnection();
  try {
    await conn.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await orm.getMigrator().up();
  } finally {
    await conn.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await knex.client.releaseConnection(conn);
  }
}
