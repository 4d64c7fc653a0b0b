import { IsolationLevel } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { isAdmin, type Principal } from '../../shared/auth';
import { badInput, forbidden } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { Role } from '../identity/user.entity';
import { ORDER_ID_EPOCH_MS } from '../order/order-id';
import { OrderStatus } from '../order/order.lifecycle';
import { RECOUNT_SQL, ROLLUP_SQL, ROLLUP_STATUS_SQL, TAIL_SQL } from './sales.sql';

const HOUR_MS = 3_600_000;
/** The order id's clock has 41 bits of milliseconds. */
const MAX_MS = 2 ** 41 - 1;

export interface SalesFigures {
  from: Date;
  to: Date;
  orders: number;
  /** Minor units. */
  gross: number;
  refunded: number;
  byStatus: { status: OrderStatus; count: number }[];
}

interface Acc {
  orders: number;
  gross: number;
  refunded: number;
  byStatus: Map<string, number>;
}

/** The smallest order id placed at or after `ms` (ms since the id epoch). */
const idAt = (ms: number) => (BigInt(ms) << 22n).toString();

/**
 * Sales figures over orders placed in [from, to). Whole hours come from the rollup plus the
 * events not folded in yet; the partial hours at either end are counted from their orders (at
 * most two hours of one merchant's or the platform's orders, by id range). All of it is read in
 * one REPEATABLE READ snapshot, so the three parts fit together exactly.
 */
export class SalesService {
  async stats(
    em: EntityManager,
    principal: Principal,
    range: { from: Date; to: Date; merchantId: string | null },
  ): Promise<SalesFigures> {
    const merchantId = this.merchantFor(principal, range.merchantId);
    const { from, to } = range;
    if (!(from.getTime() < to.getTime())) throw badInput('from must be before to', 'from');
    const clamp = (d: Date) => Math.min(Math.max(d.getTime() - ORDER_ID_EPOCH_MS, 0), MAX_MS);
    const lo = clamp(from);
    const hi = clamp(to);
    const acc: Acc = { orders: 0, gross: 0, refunded: 0, byStatus: new Map() };
    if (lo < hi) {
      await em.fork().transactional(
        async (tx) => {
          const t = tx as EntityManager;
          const firstHour = Math.ceil(lo / HOUR_MS);
          const endHour = Math.floor(hi / HOUR_MS);
          if (firstHour < endHour) {
            await this.wholeHours(t, merchantId, firstHour, endHour, acc);
            await this.recount(t, merchantId, lo, firstHour * HOUR_MS, acc);
            await this.recount(t, merchantId, endHour * HOUR_MS, hi, acc);
          } else {
            await this.recount(t, merchantId, lo, hi, acc);
          }
        },
        { isolationLevel: IsolationLevel.REPEATABLE_READ, readOnly: true },
      );
    }
    return {
      from,
      to,
      orders: acc.orders,
      gross: acc.gross,
      refunded: acc.refunded,
      byStatus: Object.values(OrderStatus)
        .map((status) => ({ status, count: acc.byStatus.get(status) ?? 0 }))
        .filter((s) => s.count !== 0),
    };
  }

  /** ADMIN: any merchant or the platform (null); MERCHANT: its own shop only. */
  private merchantFor(p: Principal, asked: string | null): string | null {
    if (asked !== null && !isId(asked)) throw badInput('merchantId is not an id', 'merchantId');
    if (isAdmin(p)) return asked;
    if (p.roles.includes(Role.MERCHANT) && p.merchantId) {
      if (asked !== null && asked !== p.merchantId) throw forbidden('A merchant sees its own figures only');
      return p.merchantId;
    }
    throw forbidden('Requires role ADMIN or MERCHANT');
  }

  private async wholeHours(tx: EntityManager, m: string | null, h0: number, h1: number, acc: Acc) {
    const [r] = await sqlAll<{ orders: string; gross: string; refunded: string }>(tx, ROLLUP_SQL, [
      m,
      h0,
      h1,
    ]);
    acc.orders += Number(r.orders);
    acc.gross += Number(r.gross);
    acc.refunded += Number(r.refunded);
    for (const s of await sqlAll<{ status: string; orders: string }>(tx, ROLLUP_STATUS_SQL, [m, h0, h1])) {
      add(acc.byStatus, s.status, Number(s.orders));
    }
    const tail = await sqlAll<{ kind: string; status: string | null; orders: string; gross: string }>(
      tx,
      TAIL_SQL,
      [m, idAt(h0 * HOUR_MS), idAt(h1 * HOUR_MS)],
    );
    for (const t of tail) {
      if (t.kind === 'money') {
        acc.orders += Number(t.orders);
        acc.gross += Number(t.gross);
      } else add(acc.byStatus, t.status!, Number(t.orders));
    }
  }

  private async recount(tx: EntityManager, m: string | null, fromMs: number, toMs: number, acc: Acc) {
    if (fromMs >= toMs) return;
    const rows = await sqlAll<{ status: string; orders: string; gross: string; refunded: string }>(
      tx,
      RECOUNT_SQL,
      [m, idAt(fromMs), idAt(toMs)],
    );
    for (const r of rows) {
      acc.orders += Number(r.orders);
      acc.gross += Number(r.gross);
      acc.refunded += Number(r.refunded);
      add(acc.byStatus, r.status, Number(r.orders));
    }
  }
}

const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
