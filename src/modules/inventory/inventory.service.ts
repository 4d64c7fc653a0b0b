import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { badInput, notFound } from '../../shared/errors';
import type { Principal } from '../../shared/auth';
import { canManage } from '../../shared/auth';
import { requireId } from '../../shared/ids';
import { available, type StockCounts } from './availability';

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
  /** Runs after every committed stock change (the search cache listens). */
  constructor(private readonly onStockChanged: () => void = () => undefined) {}

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
    const rows = await sqlAll<{ on_hand: number; reserved: number; sold: number }>(
      em,
      `update variant set on_hand = $1 where id = $2 and $1 >= reserved + sold
       returning on_hand, reserved, sold`,
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
    this.onStockChanged();
    const r = rows[0];
    return toLevel({ onHand: r.on_hand, reserved: r.reserved, sold: r.sold });
  }
}
