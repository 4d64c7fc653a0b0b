import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { inTransaction, Rollback } from '../../db/transaction';
import { canManage, type Principal } from '../../shared/auth';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { parseMoney } from '../../shared/money';
import { holdForSale } from '../inventory/inventory.store';
import type { FlashSaleCore } from './flashsale.deps';
import * as store from './flashsale.store';
import type { FlashSaleRow } from './flashsale.types';

/*
 * Creating a flash sale: the sale row and the hold of its units, written together or not at all,
 * and (with Redis) the sale's first copy in the gate.
 */

export interface FlashSaleInput {
  variantId: string;
  price: string;
  quantity: number;
  perCustomerLimit: number;
  startsAt: Date;
  endsAt: Date;
}

/**
 * ADMIN, or the variant's MERCHANT. The sale and its hold are written together: the units are
 * taken from the variant's available stock by one conditional statement, or nothing is written.
 * The same sale asked again (same variant and window, same terms) returns the first one.
 */
export async function createSale(
  core: FlashSaleCore,
  em: EntityManager,
  principal: Principal,
  input: FlashSaleInput,
): Promise<FlashSaleRow> {
  const price = parseMoney(input.price, 'price');
  const startsAt = new Date(input.startsAt);
  const endsAt = new Date(input.endsAt);
  if (!(endsAt > startsAt)) throw badInput('endsAt must be after startsAt', 'endsAt');
  if (endsAt.getTime() <= Date.now()) throw badInput('endsAt must be in the future', 'endsAt');
  if (input.perCustomerLimit > input.quantity)
    throw badInput('perCustomerLimit cannot exceed quantity', 'perCustomerLimit');
  const [variant] = isId(input.variantId)
    ? await sqlAll<{ merchant_id: string }>(em, 'select merchant_id from variant where id = $1', [
        input.variantId,
      ])
    : [];
  if (!variant || !canManage(principal, String(variant.merchant_id)))
    throw notFound('Variant', input.variantId.slice(0, 40));
  const lineCapacity = Math.ceil((input.quantity * (100 + core.settings.waitlistPercent)) / 100);
  const outcome = await inTransaction<FlashSaleRow, string>(em, async (tx) => {
    const sale = await store.insertSale(tx, {
      variantId: input.variantId,
      merchantId: String(variant.merchant_id),
      price,
      quantity: input.quantity,
      perCustomerLimit: input.perCustomerLimit,
      startsAt,
      endsAt,
      lineCapacity,
    });
    if (!sale) {
      const first = (await store.saleByWindow(tx, input.variantId, startsAt, endsAt))!;
      const same =
        Number(first.price) === price &&
        first.quantity === input.quantity &&
        first.per_customer_limit === input.perCustomerLimit;
      if (!same) throw new Rollback('A flash sale of this variant with this window already exists');
      return first;
    }
    const held = await holdForSale(tx, {
      flashSaleId: String(sale.id),
      variantId: input.variantId,
      quantity: input.quantity,
      until: endsAt,
    });
    if (!held) throw new Rollback(`Fewer than ${input.quantity} units of this variant are available`);
    return sale;
  });
  if (typeof outcome === 'string') throw badInput(outcome, 'quantity');
  if (core.gate?.connected) await core.reconcile(em, String(outcome.id), false).catch(() => undefined);
  return outcome;
}
