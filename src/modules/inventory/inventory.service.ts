import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { badInput, notFound } from '../../shared/errors';
import type { Principal } from '../../shared/auth';
import { canManage } from '../../shared/auth';
import { requireId } from '../../shared/ids';
import { available, availabilityOf, type StockCounts } from './availability';
import type { Availability } from '../catalog/catalog.types';

/** A variant's availability level before and after a stock change. */
export interface LevelMove {
  variantId: string;
  before: Availability;
  after: Availability;
}

export interface InventoryLevelData extends StockCounts {
  available: number;
}

export const toLevel = (s: StockCounts): InventoryLevelData => ({
  onHand: s.onHand,
  reserved: s.reserved,
  sold: s.sold,
  available: available(s),
});

export class InventoryService {
  /** `onStockChanged` runs (awaited) after every committed stock change; the catalog caches listen. */
  constructor(
    private readonly lowStockThreshold = 5,
    private readonly onStockChanged: (moves: LevelMove[]) => unknown = () => undefined,
  ) {}

  /**
   * Sets a variant's stock on hand in one conditional statement, so it cannot race a checkout into
   * a negative `available`: it fails when the new count is below what is reserved plus sold.
   */
  async setOnHand(
    em: EntityManager,
    principal: Principal,
    variantId: string,
    onHand: number,
  ): Promise<InventoryLevelData> {
    if (!Number.isInteger(onHand) || onHand < 0 || onHand > 1_000_000_000) {
      throw badInput('onHand must be an integer between 0 and 1000000000', 'onHand');
    }
    requireId(variantId, 'Variant');
    const [variant] = await sqlAll<{ merchant_id: string }>(
      em,
      'select merchant_id from variant where id = $1',
      [variantId],
    );
    // Another merchant's variant reads as not found.
    if (!variant || !canManage(principal, String(variant.merchant_id))) throw notFound('Variant', variantId);
    // The count before comes from the row locked by the same statement, so the level move is exact.
    const rows = await sqlAll<{ on_hand: number; reserved: number; sold: number; before: number }>(
      em,
      `update variant v set on_hand = $1
         from (select id, on_hand from variant where id = $2 for update) old
        where v.id = old.id and $1 >= v.reserved + v.sold
       returning v.on_hand, v.reserved, v.sold, old.on_hand as before`,
      [onHand, variantId],
    );
    if (rows.length === 0) {
      const [cur] = await sqlAll<{ reserved: number; sold: number }>(
        em,
        'select reserved, sold from variant where id = $1',
        [variantId],
      );
      throw badInput(`onHand cannot be below reserved plus sold (${cur.reserved + cur.sold})`, 'onHand');
    }
    const r = rows[0];
    const level = (n: number) =>
      availabilityOf({ onHand: n, reserved: r.reserved, sold: r.sold }, this.lowStockThreshold);
    await this.onStockChanged([{ variantId, before: level(r.before), after: level(r.on_hand) }]);
    return toLevel({ onHand: r.on_hand, reserved: r.reserved, sold: r.sold });
  }
}
