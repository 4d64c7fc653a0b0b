import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { deliveryPages, type DeliveryRow, type DeliveryStatus } from './webhook.store';

export interface DeliveryPageKey {
  endpointId: string;
  status: DeliveryStatus | null;
  /** One more than the page, to know whether another follows. */
  limit: number;
  beforeId: string | null;
}

const argsOf = (k: DeliveryPageKey) => `${k.status}|${k.limit}|${k.beforeId}`;

/**
 * The deliveries pages of a list of endpoints: one statement per distinct set of page arguments
 * (in practice one for the whole list), however many endpoints the list has.
 */
export function deliveryPageLoader(em: EntityManager) {
  return new DataLoader<DeliveryPageKey, DeliveryRow[], string>(
    async (keys) => {
      const groups = new Map<string, DeliveryPageKey[]>();
      for (const k of keys) groups.set(argsOf(k), [...(groups.get(argsOf(k)) ?? []), k]);
      const byKey = new Map<string, DeliveryRow[]>();
      for (const group of groups.values()) {
        const { status, limit, beforeId } = group[0];
        const rows = await deliveryPages(
          em,
          group.map((k) => k.endpointId),
          status,
          limit,
          beforeId,
        );
        for (const k of group) byKey.set(`${k.endpointId}|${argsOf(k)}`, []);
        for (const r of rows) byKey.get(`${r.endpoint_id}|${argsOf(group[0])}`)?.push(r);
      }
      return keys.map((k) => byKey.get(`${k.endpointId}|${argsOf(k)}`) ?? []);
    },
    { cacheKeyFn: (k) => `${k.endpointId}|${argsOf(k)}` },
  );
}

const perRequest = new WeakMap<object, ReturnType<typeof deliveryPageLoader>>();

/** The loader of one request (keyed by its context object, so nothing outlives the request). */
export function deliveryPagesOf(ctx: object, em: EntityManager) {
  let l = perRequest.get(ctx);
  if (!l) perRequest.set(ctx, (l = deliveryPageLoader(em)));
  return l;
}
