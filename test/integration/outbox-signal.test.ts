import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { inTransaction } from '../../src/db/transaction';
import { recordOrderEvent } from '../../src/modules/events/order-events';
import { OrderEventKind } from '../../src/modules/order/order.types';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { subscribe, wsClient } from '../support/ws';

/*
 * The relay is woken by the NOTIFY writers send after their commit, not by its poll: with the
 * poll a minute apart, events still reach a subscriber at once. And no NOTIFY happens inside the
 * writing transaction (that would serialise every event-writing commit in PostgreSQL).
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ EVENT_RELAY_POLL_MS: '60000' });
});
afterAll(() => t?.stop());

test('events committed through the app reach a subscriber within moments, without the poll', async () => {
  const admin = await adminToken(t.gql);
  const shop = await createMerchant(t.gql, admin);
  const p = await createProduct(t.gql, shop.token, { variants: [{ onHand: 10 }] });
  const buyer = await signUpCustomer(t.gql);
  const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
  const orderId = (await checkout(t.gql, buyer.token, cartId, `k-${randomBytes(4).toString('hex')}`)).data
    .checkoutCreate.orders[0].id;
  const ws = wsClient(t.url, buyer.token);
  const sub = subscribe(
    ws,
    `subscription($o: ID!) { orderEvents(orderId: $o) { type } }`,
    { o: orderId },
    (d) => d.orderEvents,
  );
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 1; i <= 3; i++) {
    const started = Date.now();
    await inTransaction(t.app.orm.em as unknown as EntityManager, (tx) =>
      recordOrderEvent(tx, { orderId, type: OrderEventKind.SHIPMENT_UPDATED }),
    );
    await sub.waitFor(i, 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
  }
  await ws.dispose();
  const [trigger] = (await t.app.orm.em
    .fork()
    .getConnection()
    .execute(`select count(*)::int as n from pg_trigger where tgname like 'order_event%'`)) as {
    n: number;
  }[];
  expect(trigger.n).toBe(0);
});
