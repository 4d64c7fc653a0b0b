import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { PostingKind } from '../ledger/ledger.service';

/**
 * What the ledger holds in the merchant's escrow for one order: the sum of the escrow entries that
 * name the order (`order:<id>`) in the postings that can touch it, which are the PURCHASE of each
 * payment that paid it (`payment:<id>`) and the REFUND of each of its refunds (`refund:<id>`).
 * Read from the ledger rather than recomputed from amounts and fee rates, so it is exactly what
 * went in less what refunds took out, whatever fee rate applied at the time. The postings are
 * found by their unique (kind, reference), so the cost does not grow with the merchant's history.
 */
export async function escrowHeldForOrder(
  tx: EntityManager,
  merchantId: string,
  orderId: string,
  paymentIds: string[],
): Promise<number> {
  const refunds = await sqlAll<{ id: string }>(tx, 'select id from refund where order_id = $1', [orderId]);
  const postings = [
    ...paymentIds.map((id) => [PostingKind.PURCHASE, `payment:${id}`]),
    ...refunds.map((r) => [PostingKind.REFUND, `refund:${r.id}`]),
  ];
  if (postings.length === 0) return 0;
  const [row] = await sqlAll<{ held: string }>(
    tx,
    `select coalesce(sum(e.amount), 0)::bigint as held
       from unnest($1::text[], $2::text[]) as k(kind, reference)
       join ledger_posting lp on lp.kind = k.kind and lp.reference = k.reference
       join ledger_entry e on e.posting_id = lp.id
       join ledger_account a on a.id = e.account_id
      where a.owner_type = 'MERCHANT' and a.owner_id = $3 and a.kind = 'ESCROW' and e.reference = $4`,
    [postings.map((p) => p[0]), postings.map((p) => p[1]), merchantId, `order:${orderId}`],
  );
  return Number(row.held);
}
