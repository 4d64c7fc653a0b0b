import { Availability } from '../catalog/catalog.types';

export interface StockCounts {
  onHand: number;
  reserved: number;
  sold: number;
}

export const available = (s: StockCounts): number => Math.max(0, s.onHand - s.reserved - s.sold);

/** LOW_STOCK at or below the threshold (LOW_STOCK_THRESHOLD), OUT_OF_STOCK at zero. */
export function availabilityOf(s: StockCounts, lowStockThreshold: number): Availability {
  const n = available(s);
  if (n <= 0) return Availability.OUT_OF_STOCK;
  return n <= lowStockThreshold ? Availability.LOW_STOCK : Availability.IN_STOCK;
}

/** A product is as available as its best variant. */
export function bestAvailability(levels: Availability[]): Availability {
  if (levels.includes(Availability.IN_STOCK)) return Availability.IN_STOCK;
  if (levels.includes(Availability.LOW_STOCK)) return Availability.LOW_STOCK;
  return Availability.OUT_OF_STOCK;
}
