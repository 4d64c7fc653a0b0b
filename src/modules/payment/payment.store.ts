import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { PaymentMethod, PaymentStatus } from './payment.lifecycle';

/** A `payment` row as stored. */
export interface PaymentRow {
  id: string;
  user_id: string;
  checkout_id: string | null;
  purpose: 'CHECKOUT' | 'TOP_UP';
  method: PaymentMethod;
  status: PaymentStatus;
  amount: string;
  refunded: string;
  provider_ref: string | null;
  redirect_url: string | null;
  /** Where the provider sends the shopper after paying; null: this server's /payments/return. */
  return_url: string | null;
  failure_reason: string | null;
  created_at: Date;
  updated_at: Date;
  settled_at: Date | null;
}

/** PaymentRow's columns, for prepared statements that name them rather than `*` (see ORDER_COLUMNS). */
export const PAYMENT_COLUMNS = [
  'id',
  'user_id',
  'checkout_id',
  'purpose',
  'method',
  'status',
  'amount',
  'refunded',
  'provider_ref',
  'redirect_url',
  'return_url',
  'failure_reason',
  'created_at',
  'updated_at',
  'settled_at',
] as const satisfies readonly (keyof PaymentRow)[];

export async function findPayment(em: EntityManager, id: string): Promise<PaymentRow | null> {
  if (!/^\d{1,19}$/.test(id)) return null;
  const [row] = await sqlAll<PaymentRow>(em, 'select * from payment where id = $1', [id]);
  return row ?? null;
}

/**
 * Locks a payment row for a change of its status or amounts. FOR NO KEY UPDATE (the lock an
 * UPDATE of non-key columns takes anyway), not FOR UPDATE: it does not conflict with the KEY
 * SHARE locks that inserting its children (provider events, refunds) takes, so those inserts
 * never wait on a settling payment, and a lock taken after such an insert cannot deadlock on them.
 */
export async function lockPayment(
  tx: EntityManager,
  id: string,
  wait: 'skip locked' | '' = '',
): Promise<PaymentRow | null> {
  const [row] = await sqlAll<PaymentRow>(
    tx,
    `select * from payment where id = $1 for no key update ${wait}`,
    [id],
  );
  return row ?? null;
}
