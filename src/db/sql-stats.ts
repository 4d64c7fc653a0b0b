import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Counts SQL statements per request. The counter travels with the request's async context, so
 * statements issued from DataLoader batches are attributed to the request that caused them.
 */
export interface SqlCounter {
  statements: number;
}

export const sqlCounterStorage = new AsyncLocalStorage<SqlCounter>();

export function countStatement(): void {
  const counter = sqlCounterStorage.getStore();
  if (counter) counter.statements++;
}
