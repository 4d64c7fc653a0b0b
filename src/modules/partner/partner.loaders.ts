import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import {
  documentsOfPartners,
  keysOfPartners,
  type ApiKeyRow,
  type PersistedDocumentRow,
} from './partner.store';

/** Keys and documents of every partner of a page in one statement each. */
export function partnerLoaders(em: EntityManager) {
  const grouped =
    <R extends { partner_id: string }>(load: (em: EntityManager, ids: readonly string[]) => Promise<R[]>) =>
    async (ids: readonly string[]): Promise<R[][]> => {
      const m = new Map<string, R[]>(ids.map((id) => [id, []]));
      for (const r of await load(em, ids)) m.get(String(r.partner_id))?.push(r);
      return ids.map((id) => m.get(id)!);
    };
  return {
    keys: new DataLoader<string, ApiKeyRow[]>(grouped(keysOfPartners)),
    documents: new DataLoader<string, PersistedDocumentRow[]>(grouped(documentsOfPartners)),
  };
}
