import { randomBytes } from 'node:crypto';
import type { Client as WsClient } from 'graphql-ws';
import { Client as PgClient } from 'pg';
import { freePort } from '../../src/db/embedded';
import { startSandboxProcess, type SandboxProcess } from '../../src/sandbox/process';
import {
  carrierEvent,
  postCarrierEvent,
  type CarrierStatus,
  type LogisticsEvent,
} from '../../src/sandbox/carrier';
import { completeOnProviderPage, eventually, PAYMENT_START } from '../factories/payments';
import { ADDRESS } from '../factories/shop';
import { LEDGER_CHECKS, moneyProblems, PAYMENT_CHECKS } from '../support/money-invariants';
import { client, type Gql } from '../support/client';
import { createTestDatabase } from '../support/db';
import { cleanupServers, startServer, type ServerProcess } from '../support/server-process';
import { subscribe, wsClient, type Subscription } from '../support/ws';

/**
 * The whole life of one order, end to end (issue 5, item 6): the built server as a separate
 * process, driven over real HTTP and graphql-ws the way a storefront, a merchant console, the card
 * provider and a carrier drive it.
 *
 * sign up → anonymous cart → sign in with the cart (merge) → checkout → card payment on the
 * provider's page (its signed callback settles it) → the merchant ships → the carrier's signed
 * tracking events up to DELIVERED → the buyer confirms receipt → return and refund → the merchant
 * approves, the buyer sends the parcel back, the merchant receives it → refunded, at the provider too.
 *
 * Meanwhile the buyer follows `orderEvents` and the merchant `merchantOrderEvents`. The server is
 * killed (SIGKILL, whole process group) twice: right after the shopper paid on the provider's page
 * (the provider's callback then lands on a dead server and is retried), and right after orderShip
 * committed (before its events may have been published); it is restarted each time on the same
 * database and port. After delivery it is stopped gracefully (SIGTERM) and restarted once more.
 * Each time the subscribers reconnect with `after` = the last event id they got. At the end what
 * each received, all sessions put together, must be exactly the order's history after its start
 * cursor: every event once, in order, none missed, none twice.
 *
 * The card provider runs as its own process (as a real one does): the sandbox the server would
 * otherwise start as its child keeps payments in memory, and the refund at the end must reach the
 * provider that took the payment.
 */

const ADMIN = { email: 'admin@journey.test', password: 'journey-admin-password' };
const SECRETS = {
  JWT_SECRET: 'journey-jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'journey-payment-secret-0123456789',
  LOGISTICS_WEBHOOK_SECRET: 'journey-logistics-secret-0123456789',
  PAYMENT_PROVIDER_API_KEY: 'journey-provider-key-0123456789',
};
const RETURN_ADDRESS = {
  name: 'Returns desk',
  line1: '9 Depot Road',
  city: 'Hamburg',
  postalCode: '20095',
  country: 'DE',
};

const uid = () => randomBytes(4).toString('hex');

// ------------------------------------------------------------------ helpers

/** A GraphQL call that must succeed without errors; its data. */
async function ok(
  gql: Gql,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<any> {
  const r = await gql(query, variables, token);
  if (r.status !== 200 || r.errors || !r.data)
    throw new Error(`GraphQL call failed (${r.status}): ${JSON.stringify(r.errors ?? r)}\n${query}`);
  return r.data;
}

/** The sandbox provider as its own process (not the server's child: it outlives restarts), callbacks retried often. */
const startProvider = () =>
  startSandboxProcess({
    apiKey: SECRETS.PAYMENT_PROVIDER_API_KEY,
    webhookSecret: SECRETS.PAYMENT_WEBHOOK_SECRET,
    log: () => undefined,
    extra: {
      SANDBOX_CALLBACK_BASE_MS: '200',
      SANDBOX_CALLBACK_MAX_MS: '1000',
      SANDBOX_CALLBACK_MAX_ATTEMPTS: '60',
    },
  });

/** The fields every order event is read with, live and in the history alike. */
const EVENT_FIELDS = `id type status shipment { status trackingNumber } afterSale { status }`;
const ORDER_EVENTS = `subscription($o: ID!, $a: ID) { orderEvents(orderId: $o, after: $a) { ${EVENT_FIELDS} } }`;
const SHOP_EVENTS = `subscription($a: ID) { merchantOrderEvents(after: $a) { orderId ${EVENT_FIELDS} } }`;
type OrderEvent = {
  id: string;
  orderId?: string;
  type: string;
  status: string;
  shipment: { status: string; trackingNumber: string } | null;
  afterSale: { status: string } | null;
};

/**
 * A subscriber that lives across server restarts: one graphql-ws session per server run, each
 * resumed with `after` = the last event id received. `events` is every session's events, in order.
 */
class Follower {
  readonly sessions: Subscription<OrderEvent>[] = [];
  private ws?: WsClient;

  constructor(
    private readonly token: string,
    private readonly query: string,
    private readonly variables: Record<string, unknown>,
    private readonly pick: (d: any) => OrderEvent,
    /** The start cursor: the id of the last event this follower is not meant to receive. */
    readonly startAfter: string,
  ) {}

  get events(): OrderEvent[] {
    return this.sessions.flatMap((s) => s.events);
  }

  get lastId(): string {
    return this.events.at(-1)?.id ?? this.startAfter;
  }

  /** A new session on `srv`, from the last event received. */
  connect(srv: ServerProcess): void {
    void this.ws?.dispose();
    this.ws = wsClient(srv.url, this.token);
    this.sessions.push(subscribe(this.ws, this.query, { ...this.variables, a: this.lastId }, this.pick));
  }

  /** Waits until the event `id` has arrived (in any session). */
  async waitForId(id: string, ms = 15_000): Promise<void> {
    const session = this.sessions.at(-1)!;
    await eventually(async () => {
      if (session.errors.length) throw new Error(`subscription failed: ${JSON.stringify(session.errors)}`);
      return this.events.some((e) => e.id === id);
    }, ms).catch((e) => {
      throw new Error(
        `${String(e)}: event ${id} not received; got ${JSON.stringify(this.events.map((x) => x.id))}`,
      );
    });
  }

  /** Waits until the current session has ended (the server went away); what it failed with. */
  async ended(): Promise<unknown[]> {
    const session = this.sessions.at(-1)!;
    await session.ended;
    return session.errors;
  }

  async dispose(): Promise<void> {
    await this.ws?.dispose();
  }
}

// ------------------------------------------------------------------ the test

let provider: SandboxProcess | undefined;
let db: { url: string; drop(): Promise<void> } | undefined;
let pg: PgClient | undefined;
const followers: Follower[] = [];

afterAll(async () => {
  await Promise.all(followers.map((f) => f.dispose()));
  await pg?.end();
  await cleanupServers();
  await provider?.stop();
  await db?.drop();
});

test('one order from an anonymous cart to a refunded return, followed live across two SIGKILLs and a SIGTERM restart', async () => {
  const t0 = Date.now();
  provider = await startProvider();
  db = await createTestDatabase();
  pg = new PgClient({ connectionString: db.url });
  await pg.connect();
  const port = await freePort();
  const env = {
    ...SECRETS,
    DATABASE_URL: db.url,
    PAYMENT_PROVIDER_URL: provider.url,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    DEMO_DATA: 'false',
    LOG_LEVEL: 'warn',
    EVENT_RELAY_POLL_MS: '200',
    SHIPPING_FEE: '4.99',
    FREE_SHIPPING_ABOVE: 'none',
  };
  const start = () => startServer({ env, port, processGroup: true });
  let srv = await start();
  const gql = client(srv.url); // same port across restarts: one client for all runs
  const signIn = async (email: string, password: string, cartId?: string) =>
    (
      await ok(
        gql,
        `mutation($e: String!, $p: String!, $c: ID) { signIn(email: $e, password: $p, cartId: $c) {
           __typename ... on AuthPayload { token viewer { id } cart { id itemCount lines { quantity variant { id } } } } ... on ErrorResult { errorCode } } }`,
        { e: email, p: password, c: cartId },
      )
    ).signIn;
  const ORDER = `query($id: ID!) { order(id: $id) { id status total { amount } shippingFee { amount }
      payment { id method status amount { amount } refunded { amount } }
      lines { id variantId quantity } shipments { trackingNumber status events { status } }
      afterSales { id status } history { ${EVENT_FIELDS} } } }`;
  const order = async (token: string, id: string) => (await ok(gql, ORDER, { id }, token)).order;
  /** The carrier's signed event on /webhooks/logistics, as a carrier posts it. */
  const carrier = (e: LogisticsEvent) =>
    postCarrierEvent(srv.origin, e, { secret: SECRETS.LOGISTICS_WEBHOOK_SECRET });
  const scan = (trackingNumber: string, status: CarrierStatus) =>
    carrierEvent({
      carrier: 'DHL',
      trackingNumber,
      status,
      location: 'Berlin hub',
      description: status.toLowerCase(),
    });

  // ---- a shop: one merchant with two products
  const admin = (await signIn(ADMIN.email, ADMIN.password)).token;
  const shopEmail = `owner-${uid()}@journey.test`;
  await ok(
    gql,
    `mutation($i: MerchantCreateInput!) { merchantCreate(input: $i) { id } }`,
    {
      i: {
        name: `Journey shop ${uid()}`,
        ownerEmail: shopEmail,
        ownerPassword: 'owner-password',
        ownerName: 'Owner',
      },
    },
    admin,
  );
  const shop = (await signIn(shopEmail, 'owner-password')).token;
  const product = async (title: string, price: string) =>
    (
      await ok(
        gql,
        `mutation($i: ProductCreateInput!) { productCreate(input: $i) { variants { id product { id } } } }`,
        {
          i: {
            title,
            description: `${title} for the journey`,
            variants: [{ sku: `J-${uid()}`, title, price, onHand: 20, attributes: [] }],
          },
        },
        shop,
      )
    ).productCreate.variants[0];
  const productOf = new Map<string, string>();
  const variantOf = async (title: string, price: string) => {
    const v = await product(title, price);
    productOf.set(v.id, v.product.id);
    return v.id as string;
  };
  const mug = await variantOf('Mug', '12.00');
  const lamp = await variantOf('Lamp', '30.00');

  // ---- sign up
  const email = `shopper-${uid()}@journey.test`;
  const signedUp = (
    await ok(
      gql,
      `mutation($i: SignUpInput!) { signUp(input: $i) { __typename ... on AuthPayload { token } } }`,
      {
        i: { email, password: 'password-123', name: 'Ada Buyer' },
      },
    )
  ).signUp;
  expect(signedUp.__typename).toBe('AuthPayload');

  // ---- fill a cart anonymously (no token: the cart id is the only key to it)
  const anon = (
    await ok(
      gql,
      `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename ... on Cart { id itemCount } } }`,
      {
        l: [{ variantId: mug, quantity: 2 }],
      },
    )
  ).cartCreate;
  expect(anon).toMatchObject({ __typename: 'Cart', itemCount: 2 });
  const added = (
    await ok(
      gql,
      `mutation($c: ID!, $l: [CartLineInput!]!) { cartLinesAdd(cartId: $c, lines: $l) { __typename ... on Cart { itemCount } } }`,
      {
        c: anon.id,
        l: [{ variantId: lamp, quantity: 1 }],
      },
    )
  ).cartLinesAdd;
  expect(added).toEqual({ __typename: 'Cart', itemCount: 3 });

  // ---- sign in with that cart: its lines are merged into the customer's cart
  const session = await signIn(email, 'password-123', anon.id);
  expect(session.__typename).toBe('AuthPayload');
  const buyer = session.token as string;
  const lines = (c: { lines: { quantity: number; variant: { id: string } }[] }) =>
    c.lines.map((l) => [l.variant.id, l.quantity]).sort();
  expect(lines(session.cart)).toEqual(
    [
      [mug, 2],
      [lamp, 1],
    ].sort(),
  );
  const customerCart = (
    await ok(gql, `{ cart { id itemCount lines { quantity variant { id } } } }`, {}, buyer)
  ).cart;
  expect(customerCart.id).toBe(session.cart.id);
  expect(lines(customerCart)).toEqual(
    [
      [mug, 2],
      [lamp, 1],
    ].sort(),
  );
  // Exactly once: signing in again with the same anonymous cart id adds nothing.
  const again = await signIn(email, 'password-123', anon.id);
  expect(
    lines((await ok(gql, `{ cart { lines { quantity variant { id } } } }`, {}, again.token)).cart),
  ).toEqual(lines(customerCart));

  // ---- checkout: one merchant, one order awaiting payment
  const co = (
    await ok(
      gql,
      `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) { __typename
         ... on Checkout { id total { amount } orders { id status total { amount } } } ... on ErrorResult { errorCode message } } }`,
      { i: { cartId: customerCart.id, idempotencyKey: `co-${uid()}`, shippingAddress: ADDRESS } },
      buyer,
    )
  ).checkoutCreate;
  expect(co).toMatchObject({
    __typename: 'Checkout',
    total: { amount: '58.99' },
    orders: [{ status: 'PENDING_PAYMENT', total: { amount: '58.99' } }],
  });
  const orderId: string = co.orders[0].id;
  // The cart was checked out: the customer's cart is empty now.
  expect((await ok(gql, `{ cart { itemCount } }`, {}, buyer)).cart?.itemCount ?? 0).toBe(0);
  const created = await order(buyer, orderId);
  expect(created.history.map((e: OrderEvent) => e.status)).toEqual(['PENDING_PAYMENT']);

  // ---- the buyer and the merchant follow the order live, from its creation event
  const cursor: string = created.history[0].id;
  const watcher = new Follower(buyer, ORDER_EVENTS, { o: orderId }, (d) => d.orderEvents, cursor);
  const shopWatcher = new Follower(shop, SHOP_EVENTS, {}, (d) => d.merchantOrderEvents, cursor);
  followers.push(watcher, shopWatcher);
  const resume = () => [watcher, shopWatcher].forEach((f) => f.connect(srv));
  /** SIGKILL to the server's process group; the followers' sockets drop under their subscriptions. */
  const crash = async () => {
    expect(await srv.stop('SIGKILL', 10_000, { group: true })).toMatchObject({ signal: 'SIGKILL' });
    for (const f of [watcher, shopWatcher]) expect(await f.ended()).not.toEqual([]);
  };
  resume();

  // ---- pay by card on the provider's hosted page; the provider's signed callback settles it
  const pay = (await ok(gql, PAYMENT_START, { c: co.id, m: 'CARD', k: `pay-${uid()}` }, buyer)).paymentStart;
  expect(pay).toMatchObject({
    __typename: 'Payment',
    status: 'PENDING',
    method: 'CARD',
    amount: { amount: '58.99' },
  });
  expect(await completeOnProviderPage(pay.redirectUrl, 'pay')).toBe(303);

  // ---- crash 1: SIGKILL (the server's whole process group) while the provider's callback may still
  // be on its way; the provider retries it until the restarted server takes it
  await crash();
  srv = await start();
  resume();

  const paid = await eventually(async () => {
    const o = await order(buyer, orderId);
    return o.status === 'PAID' ? o : null;
  });
  expect(paid.payment).toMatchObject({ id: pay.id, status: 'SUCCEEDED', refunded: { amount: '0.00' } });
  await watcher.waitForId(paid.history.at(-1).id);
  await shopWatcher.waitForId(paid.history.at(-1).id);

  // ---- the merchant ships
  const tracking = `JRN${uid().toUpperCase()}`;
  const shipped = (
    await ok(
      gql,
      `mutation($o: ID!, $n: String!) { orderShip(orderId: $o, carrier: "DHL", trackingNumber: $n) { __typename ... on Shipment { status trackingNumber } ... on ErrorResult { errorCode message } } }`,
      { o: orderId, n: tracking },
      shop,
    )
  ).orderShip;
  expect(shipped).toEqual({ __typename: 'Shipment', status: 'LABEL_CREATED', trackingNumber: tracking });

  // ---- crash 2: SIGKILL the moment the shipment committed, before the relay may even have
  // published its events
  await crash();

  // The carrier's first scan while the shop is down: no answer, so the carrier will send it again.
  const inTransit = scan(tracking, 'IN_TRANSIT');
  await expect(carrier(inTransit)).rejects.toThrow();

  // ---- restart on the same database and port; the followers resume from the last event they got
  srv = await start();
  resume();
  expect((await order(buyer, orderId)).status).toBe('SHIPPED');

  // ---- the carrier's tracking events (the first one is the retry of the scan sent while down)
  expect(await carrier(inTransit)).toEqual({ status: 200, body: { status: 'applied' } });
  expect(await carrier(inTransit)).toEqual({ status: 200, body: { status: 'duplicate' } });
  expect((await carrier(scan(tracking, 'OUT_FOR_DELIVERY'))).status).toBe(200);
  expect((await carrier(scan(tracking, 'DELIVERED'))).status).toBe(200);
  const delivered = await order(buyer, orderId);
  expect(delivered.status).toBe('DELIVERED');
  expect(delivered.shipments).toEqual([
    {
      trackingNumber: tracking,
      status: 'DELIVERED',
      events: expect.arrayContaining([
        { status: 'IN_TRANSIT' },
        { status: 'OUT_FOR_DELIVERY' },
        { status: 'DELIVERED' },
      ]),
    },
  ]);
  await watcher.waitForId(delivered.history.at(-1).id);
  await shopWatcher.waitForId(delivered.history.at(-1).id);

  // ---- graceful restart: SIGTERM drains the sockets and exits 0
  const stopped = await srv.stop('SIGTERM');
  expect(stopped).toMatchObject({ code: 0, killed: false });
  await Promise.all([watcher.ended(), shopWatcher.ended()]);
  srv = await start();
  resume();

  // ---- the buyer confirms receipt
  const completed = (
    await ok(
      gql,
      `mutation($o: ID!) { orderConfirmReceipt(orderId: $o) { __typename ... on Order { status } ... on ErrorResult { errorCode message } } }`,
      { o: orderId },
      buyer,
    )
  ).orderConfirmReceipt;
  expect(completed).toEqual({ __typename: 'Order', status: 'COMPLETED' });

  // ---- return and refund of everything
  const AS = `__typename ... on AfterSale { id status type refundAmount { amount } returnAddress { name line1 city postalCode country }
    returnShipment { carrier trackingNumber status } } ... on ErrorResult { errorCode message }`;
  const requested = (
    await ok(
      gql,
      `mutation($i: AfterSaleRequestInput!) { afterSaleRequest(input: $i) { ${AS} } }`,
      {
        i: {
          orderId,
          type: 'RETURN_AND_REFUND',
          lines: delivered.lines.map((l: { id: string; quantity: number }) => ({
            orderLineId: l.id,
            quantity: l.quantity,
          })),
          reason: 'Not what I expected',
          idempotencyKey: `as-${uid()}`,
        },
      },
      buyer,
    )
  ).afterSaleRequest;
  expect(requested).toMatchObject({
    __typename: 'AfterSale',
    status: 'REQUESTED',
    type: 'RETURN_AND_REFUND',
  });
  const afterSaleId: string = requested.id;

  // ---- the merchant approves, with the address to send the parcel to
  const approved = (
    await ok(
      gql,
      `mutation($id: ID!, $a: AddressInput) { afterSaleReview(id: $id, approve: true, returnAddress: $a) { ${AS} } }`,
      { id: afterSaleId, a: RETURN_ADDRESS },
      shop,
    )
  ).afterSaleReview;
  expect(approved).toMatchObject({ status: 'APPROVED', returnAddress: RETURN_ADDRESS });

  // ---- the buyer sends the parcel back
  const returnTracking = `RET${uid().toUpperCase()}`;
  const returned = (
    await ok(
      gql,
      `mutation($id: ID!, $n: String!) { afterSaleReturnShip(id: $id, carrier: "UPS", trackingNumber: $n) { ${AS} } }`,
      { id: afterSaleId, n: returnTracking },
      buyer,
    )
  ).afterSaleReturnShip;
  expect(returned).toMatchObject({
    status: 'RETURN_SHIPPED',
    returnShipment: { carrier: 'UPS', trackingNumber: returnTracking },
  });

  // ---- the merchant receives it: the refund is issued
  const received = (
    await ok(gql, `mutation($id: ID!) { afterSaleReceive(id: $id) { ${AS} } }`, { id: afterSaleId }, shop)
  ).afterSaleReceive;
  expect(received).toMatchObject({ status: 'REFUNDED', refundAmount: { amount: '58.99' } });

  // Everything came back: the order is REFUNDED and so is its card payment, in full.
  const refunded = await order(buyer, orderId);
  expect(refunded).toMatchObject({
    status: 'REFUNDED',
    payment: { id: pay.id, status: 'REFUNDED', amount: { amount: '58.99' }, refunded: { amount: '58.99' } },
    afterSales: [{ id: afterSaleId, status: 'REFUNDED' }],
  });
  // ... and the provider paid it back to the card (the refund job calls it after the commit).
  const [{ provider_ref: providerRef }] = (
    await pg.query('select provider_ref from payment where id = $1', [pay.id])
  ).rows;
  await eventually(async () => {
    const res = await fetch(`${provider!.url}/v1/payments/${providerRef}`, {
      headers: { authorization: `Bearer ${SECRETS.PAYMENT_PROVIDER_API_KEY}` },
    });
    const p = (await res.json()) as { amount: number; refunded: number };
    const rows = (await pg!.query(`select status from refund where order_id = $1`, [orderId])).rows;
    return p.amount === 5899 && p.refunded === 5899 && rows.length === 1 && rows[0].status === 'SUCCEEDED';
  });

  // The books balance, both units are back on the shelf, and the shop kept nothing of the sale.
  expect(
    await moneyProblems(async (q) => (await pg!.query(q)).rows, { ...LEDGER_CHECKS, ...PAYMENT_CHECKS }),
  ).toEqual([]);
  const books = await ok(
    gql,
    `{ viewer { account { balance { amount } } escrow { balance { amount } } } }`,
    {},
    shop,
  );
  expect(books.viewer).toEqual({
    account: { balance: { amount: '0.00' } },
    escrow: { balance: { amount: '0.00' } },
  });
  for (const variant of [mug, lamp]) {
    const found = (
      await ok(
        gql,
        `query($id: ID!) { product(id: $id) { variants { id inventory { onHand reserved available sold } } } }`,
        { id: productOf.get(variant) },
        shop,
      )
    ).product.variants;
    expect(found.find((v: any) => v.id === variant)?.inventory).toEqual({
      onHand: 20,
      reserved: 0,
      available: 20,
      sold: 0,
    });
  }

  // ---- what the followers saw: the history after the start cursor, each event once, in order
  const history: OrderEvent[] = refunded.history;
  expect(history[0].id).toBe(cursor);
  const expected = history.slice(1);
  await watcher.waitForId(expected.at(-1)!.id);
  await shopWatcher.waitForId(expected.at(-1)!.id);
  // A moment for anything extra (a duplicate) that would still be on its way.
  await new Promise((r) => setTimeout(r, 500));

  const ids = (es: OrderEvent[]) => es.map((e) => e.id);
  for (const f of [watcher, shopWatcher]) {
    expect(f.sessions).toHaveLength(4);
    expect(f.sessions.at(-1)!.errors).toEqual([]);
    expect(ids(f.events)).toEqual(ids(expected));
    expect(new Set(ids(f.events)).size).toBe(f.events.length);
    // Each event as it was delivered: the same kind and order status as in the history.
    // (Shipment and after-sale are resolved when an event is delivered, so only their identity is
    // compared: the parcel's tracking number, and whether an after-sale is named.)
    const shape = (e: OrderEvent) => [
      e.id,
      e.type,
      e.status,
      e.shipment?.trackingNumber ?? null,
      e.afterSale !== null,
    ];
    expect(f.events.map(shape)).toEqual(expected.map(shape));
  }
  expect(shopWatcher.events.every((e) => e.orderId === orderId)).toBe(true);
  // The journey, as the history tells it: kind, order status, the parcel named (out or back), the
  // after-sale named.
  const parcel = (e: OrderEvent) =>
    e.shipment
      ? ` ${e.shipment.trackingNumber === tracking ? 'out' : e.shipment.trackingNumber === returnTracking ? 'back' : '?'}`
      : '';
  expect(history.map((e) => `${e.type} ${e.status}${parcel(e)}${e.afterSale ? ' +after-sale' : ''}`)).toEqual(
    [
      'STATUS_CHANGED PENDING_PAYMENT', // checkout
      'STATUS_CHANGED PAID', // the provider's callback
      'STATUS_CHANGED SHIPPED', // orderShip ...
      'SHIPMENT_UPDATED SHIPPED out', // ... and its label
      'SHIPMENT_UPDATED SHIPPED out', // IN_TRANSIT (sent again after the crash)
      'SHIPMENT_UPDATED SHIPPED out', // OUT_FOR_DELIVERY
      'SHIPMENT_UPDATED SHIPPED out', // DELIVERED ...
      'STATUS_CHANGED DELIVERED', // ... delivers the order
      'STATUS_CHANGED COMPLETED', // orderConfirmReceipt
      'AFTER_SALE_UPDATED COMPLETED +after-sale', // requested
      'AFTER_SALE_UPDATED COMPLETED +after-sale', // approved
      'SHIPMENT_UPDATED COMPLETED back +after-sale', // afterSaleReturnShip: the return parcel ...
      'AFTER_SALE_UPDATED COMPLETED +after-sale', // ... and RETURN_SHIPPED
      'AFTER_SALE_UPDATED COMPLETED +after-sale', // received
      'STATUS_CHANGED REFUNDED', // the refund covers the whole order ...
      'AFTER_SALE_UPDATED REFUNDED +after-sale', // ... and the after-sale is REFUNDED
    ],
  );

  console.log(
    JSON.stringify({
      ms: Date.now() - t0,
      events: expected.length,
      buyerSessions: watcher.sessions.map((s) => s.events.length),
      shopSessions: shopWatcher.sessions.map((s) => s.events.length),
      startupMs: srv.startupMs,
      // > 0 when the payment callback was cut off by crash 1 and retried by the provider
      callbackFailures: ((await (await fetch(`${provider.url}/control`)).json()) as any).stats?.deliveries
        ?.failedAttempts,
    }),
  );
  expect((await srv.stop('SIGTERM')).code).toBe(0);
}, 120_000);
