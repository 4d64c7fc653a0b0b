import { DataloaderType, MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { migrationsList } from '../../migrations';
import { countStatement } from './sql-stats';

export interface OrmOptions {
  url: string;
  /** The entity classes (the modules' `entities` list: this layer knows no module). */
  entities: Options['entities'];
  replicaUrls?: string[];
  poolSize?: number;
  /** Where MikroORM's own messages (such as applied migrations) go. */
  logger?: (message: string) => void;
}

export function ormConfig(opts: OrmOptions): Options<PostgreSqlDriver> {
  return {
    driver: PostgreSqlDriver,
    clientUrl: opts.url,
    replicas: (opts.replicaUrls ?? []).map((clientUrl) => ({ clientUrl })),
    entities: opts.entities,
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false },
    allowGlobalContext: false,
    dataloader: DataloaderType.ALL,
    pool: { min: 1, max: opts.poolSize ?? 10 },
    discovery: { warnWhenNoEntities: true },
    forceUtcTimezone: true,
    logger: opts.logger ?? (() => undefined),
    debug: process.env.ORM_DEBUG === '1' ? ['query', 'query-params'] : false,
    // Keeps identity-map bookkeeping small for read-heavy requests.
    serialization: { forceObject: true },
  };
}

/** Connects, and counts every statement (primary and replicas) for per-request SQL statistics. */
export async function connectOrm(opts: OrmOptions): Promise<MikroORM<PostgreSqlDriver>> {
  const orm = await MikroORM.init(ormConfig(opts));
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
