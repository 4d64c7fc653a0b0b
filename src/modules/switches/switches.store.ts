import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction } from '../../db/transaction';
import type { SwitchName } from './switches';

export interface SwitchRow {
  name: string;
  enabled: boolean;
  updated_at: Date;
}

/** The only writer of runtime_switch and runtime_switch_change. */
export const switchStore = {
  all(em: EntityManager): Promise<SwitchRow[]> {
    return sqlAll<SwitchRow>(em, 'select name, enabled, updated_at from runtime_switch');
  },

  /**
   * Sets a switch and records the change (who, from what, to what) in one transaction. The row
   * lock makes two concurrent changes of one switch record each other's value as `previous`.
   */
  set(
    em: EntityManager,
    name: SwitchName,
    enabled: boolean,
    fallback: boolean,
    changedBy: string,
  ): Promise<{ row: SwitchRow; previous: boolean }> {
    return inTransaction(em, async (tx) => {
      const [old] = await sqlAll<{ enabled: boolean }>(
        tx,
        'select enabled from runtime_switch where name = $1 for update',
        [name],
      );
      const previous = old?.enabled ?? fallback;
      const [row] = await sqlAll<SwitchRow>(
        tx,
        `insert into runtime_switch (name, enabled, updated_at, updated_by) values ($1, $2, now(), $3)
         on conflict (name) do update set enabled = excluded.enabled, updated_at = now(), updated_by = excluded.updated_by
         returning name, enabled, updated_at`,
        [name, enabled, changedBy],
      );
      await sqlAll(
        tx,
        'insert into runtime_switch_change (name, enabled, previous, changed_by) values ($1, $2, $3, $4)',
        [name, enabled, previous, changedBy],
      );
      return { row, previous };
    });
  },
};
