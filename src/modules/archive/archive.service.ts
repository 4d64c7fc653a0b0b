import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { ArchiveConfig } from '../../config';
import { sqlAll } from '../../db/sql';
import { inTransaction } from '../../db/transaction';
import { ARCHIVED_TABLES, FINISHED_STATUSES, HOT_REFERENCES_ALLOWED } from './archive.tables';

/** The cron job that archives due orders (every minute). */
export const ARCHIVE_JOB = 'orders.archive';

/** Rows moved by one batch, per table (`shop_order` is the number of orders). */
export type MovedRows = Record<string, number>;

export interface ArchiveRun {
  orders: number;
  batches: number;
  ms: number;
}

/** The schema does not let the job move orders without losing or orphaning rows. */
export class ArchiveSchemaError extends Error {}

/**
 * Moves finished orders, with everything that hangs off them, from the hot tables into the
 * `archive` schema (docs/archive.md). It is the only writer of the archive tables and the only
 * code that removes orders from the hot ones.
 *
 * Crash safety: a batch is one transaction. It locks its orders (SKIP LOCKED: an order another
 * transaction is changing waits for the next batch), deletes them and their rows from the hot
 * tables and inserts the same rows into the archive in one statement, and commits. A crash anywhere
 * before the commit rolls all of it back; after it, every row is in exactly one place. A deferred
 * trigger (the migration) refuses a commit that deletes an order without archiving it.
 */
export class ArchiveService {
  private moveSql: Promise<string> | null = null;

  constructor(
    private readonly settings: ArchiveConfig,
    private readonly log?: Logger,
  ) {}

  get enabled(): boolean {
    return this.settings.afterSeconds > 0;
  }

  /**
   * Archives due orders batch after batch until none is left, `maxBatches` ran, or `budgetMs` has
   * passed (the cron job stops before its next tick).
   */
  async archiveDue(
    em: EntityManager,
    opts: { maxBatches?: number; budgetMs?: number } = {},
  ): Promise<ArchiveRun> {
    const started = Date.now();
    const run: ArchiveRun = { orders: 0, batches: 0, ms: 0 };
    if (!this.enabled) return run;
    while (
      run.batches < (opts.maxBatches ?? Infinity) &&
      Date.now() - started < (opts.budgetMs ?? Infinity)
    ) {
      const moved = await this.archiveBatch(em);
      if (moved.shop_order === 0) break;
      run.orders += moved.shop_order;
      run.batches++;
      if (this.settings.batchPauseMs > 0) await new Promise((r) => setTimeout(r, this.settings.batchPauseMs));
    }
    run.ms = Date.now() - started;
    if (run.orders > 0) this.log?.info({ ...run }, 'orders archived');
    return run;
  }

  /** One batch in one transaction: at most `limit` due orders (default ARCHIVE_BATCH_SIZE). */
  async archiveBatch(em: EntityManager, limit = this.settings.batchSize): Promise<MovedRows> {
    const move = await this.statement(em);
    return inTransaction(em, async (tx) => {
      const due = await sqlAll<{ id: string }>(tx, DUE_SQL, [this.settings.afterSeconds, limit]);
      if (due.length === 0) return { shop_order: 0 };
      const [moved] = await sqlAll<MovedRows>(tx, move, [due.map((d) => String(d.id))]);
      return moved;
    });
  }

  /** Orders in the hot table and in the archive (the bench's and the operator's view). */
  async sizes(em: EntityManager): Promise<{ hot: number; archived: number; hotBytes: number }> {
    const [r] = await sqlAll<{ hot: number; archived: number; hot_bytes: string }>(
      em,
      `select (select count(*) from shop_order)::int as hot, (select count(*) from archive.shop_order)::int as archived,
              pg_total_relation_size('public.shop_order')::bigint as hot_bytes`,
    );
    return { hot: r.hot, archived: r.archived, hotBytes: Number(r.hot_bytes) };
  }

  /** The move statement, built once from the catalog after checking the schema allows it. */
  private statement(em: EntityManager): Promise<string> {
    this.moveSql ??= buildMoveSql(em).catch((err) => {
      this.moveSql = null;
      throw err;
    });
    return this.moveSql;
  }
}

const FINISHED = `('${FINISHED_STATUSES.join("', '")}')`;

/**
 * Due orders, locked: finished, unchanged for ARCHIVE_AFTER_SECONDS, with nothing still moving —
 * no open after-sale, refund or stock reservation, no recent shipment or after-sale change, every
 * event seen by every outbox consumer (relay, webhook dispatch, sales rollup, seller store) and no webhook
 * delivery still being tried. Anything else waits for a later batch.
 */
const DUE_SQL = `
  with consumed as (
    select least((select published_pos from outbox_relay), (select dispatched_pos from webhook_dispatch),
                 (select position from sales_rollup_cursor), (select position from seller_store_cursor)) as pos
  )
  select o.id from shop_order o
   where o.status in ${FINISHED}
     and o.updated_at < now() - make_interval(secs => $1)
     and not exists (select 1 from stock_reservation r where r.order_id = o.id)
     and not exists (select 1 from refund r where r.order_id = o.id and r.status <> 'SUCCEEDED')
     and not exists (select 1 from after_sale a where a.order_id = o.id
                      and (a.status not in ('REJECTED', 'REFUNDED', 'COMPLETED', 'CANCELLED')
                           or a.updated_at >= now() - make_interval(secs => $1)))
     and not exists (select 1 from shipment s where s.order_id = o.id and s.updated_at >= now() - make_interval(secs => $1))
     and not exists (select 1 from order_event e where e.order_id = o.id
                      and (e.pos is null or e.pos > (select pos from consumed)))
     and not exists (select 1 from order_event e join webhook_delivery d on d.event_id = e.id
                      where e.order_id = o.id and d.status in ('PENDING', 'RETRYING'))
   order by o.updated_at
   limit $2
   for update of o skip locked`;

async function buildMoveSql(em: EntityManager): Promise<string> {
  const names = ARCHIVED_TABLES.map((t) => t.name);
  const cols = await sqlAll<{ schema: string; table: string; columns: string[] }>(
    em,
    `select table_schema as schema, table_name as table, array_agg(column_name::text order by ordinal_position) as columns
       from information_schema.columns
      where table_schema in ('public', 'archive') and table_name = any($1::text[])
      group by 1, 2`,
    [names],
  );
  const columnsOf = (schema: string, table: string) =>
    cols.find((c) => c.schema === schema && c.table === table)?.columns ?? [];
  for (const t of names) {
    const hot = columnsOf('public', t).join(',');
    const cold = columnsOf('archive', t).join(',');
    if (hot !== cold)
      throw new ArchiveSchemaError(
        `archive.${t} (${cold}) does not have the columns of ${t} (${hot}): a migration that changes ${t} changes archive.${t} too`,
      );
  }
  const refs = await sqlAll<{ ref: string }>(
    em,
    `select format('%s.%s->%s', c.conrelid::regclass, a.attname, c.confrelid::regclass) as ref
       from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
      where c.contype = 'f' and c.confrelid::regclass::text = any($1::text[])
        and not (c.conrelid::regclass::text = any($1::text[]))`,
    [names],
  );
  const unknown = refs.map((r) => r.ref).filter((r) => !HOT_REFERENCES_ALLOWED.includes(r));
  if (unknown.length)
    throw new ArchiveSchemaError(
      `tables that stay hot reference archived ones (${unknown.join(', ')}): add them to ARCHIVED_TABLES or HOT_REFERENCES_ALLOWED`,
    );

  // Each part names the batch's order ids ($1) itself, so the planner sees their number and reads
  // every table by index.
  const deletes = ARCHIVED_TABLES.map(
    (t) => `m_${t.name} as (delete from public.${t.name} t ${t.rows} returning t.*)`,
  );
  const inserts = ARCHIVED_TABLES.map((t) => {
    const list = columnsOf('public', t.name)
      .map((c) => `"${c}"`)
      .join(', ');
    return `a_${t.name} as (insert into archive.${t.name} (${list}) select ${list} from m_${t.name} returning 1)`;
  });
  const counts = ARCHIVED_TABLES.map((t) => `(select count(*) from a_${t.name})::int as ${t.name}`);
  // One statement: the foreign keys between the moved tables are checked at its end, when parents
  // and children are gone together.
  return `with ${[...deletes, ...inserts].join(',\n')}\nselect ${counts.join(', ')}`;
}
