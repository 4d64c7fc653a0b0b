import type { PublishedEvent } from '../../src/modules/events/event-bus';
import { EventStream, StreamOverflowError, type StreamScope } from '../../src/modules/events/event-stream';
import type { OrderEventRow } from '../../src/modules/events/order-events';

/*
 * The seam between replay and live, in isolation: an outbox in memory, live events pushed by hand
 * in any order, duplicated or missing.
 */

const ORDER = '42';
const row = (seq: number, pos = seq): OrderEventRow => ({
  id: String(1000 + seq),
  order_id: ORDER,
  buyer_id: '1',
  merchant_id: '7',
  seq,
  pos: String(pos),
  type: 'STATUS_CHANGED' as OrderEventRow['type'],
  status: 'PAID',
  shipment_id: null,
  after_sale_id: null,
  created_at: new Date(0),
});
const live = (seq: number, pos = seq): PublishedEvent => ({
  id: String(1000 + seq),
  orderId: ORDER,
  buyerId: '1',
  merchantId: '7',
  seq,
  pos,
  type: 'STATUS_CHANGED',
  status: 'PAID',
  shipmentId: null,
  afterSaleId: null,
  occurredAt: new Date(0).toISOString(),
});

/** An outbox whose reads can be held open, to push live events in the middle of a replay. */
function outbox(rows: OrderEventRow[]) {
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  const reads: number[] = [];
  return {
    rows,
    reads,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release: () => open(),
    read: async (scope: StreamScope, after: number) => {
      reads.push(after);
      await gate;
      const key = (r: OrderEventRow) => ('orderId' in scope ? r.seq : Number(r.pos));
      return rows
        .filter((r) => key(r) > after)
        .sort((a, b) => key(a) - key(b))
        .slice(0, 2);
    },
  };
}

async function take(stream: EventStream, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await stream.next()).value.seq);
  return out;
}

test('replays after the cursor in pages, then live; live events that arrive during the replay are neither lost nor doubled', async () => {
  const box = outbox([1, 2, 3, 4, 5].map((s) => row(s)));
  box.hold();
  const s = new EventStream({ orderId: ORDER }, 1, box.read);
  s.catchUp();
  // While the outbox is being read, 5 (also in the outbox) and 6 (new) arrive live.
  s.push(live(5));
  s.push(live(6));
  box.rows.push(row(6));
  box.release();
  expect(await take(s, 5)).toEqual([2, 3, 4, 5, 6]);
  s.push(live(6));
  s.push(live(7));
  expect(await take(s, 1)).toEqual([7]);
});

test('a hole in an order’s numbering (a lost pub/sub message) is filled from the outbox', async () => {
  const box = outbox([1, 2, 3].map((s) => row(s)));
  const s = new EventStream({ orderId: ORDER }, 1, box.read);
  s.catchUp();
  expect(await take(s, 2)).toEqual([2, 3]);
  box.rows.push(row(4), row(5));
  s.push(live(5)); // 4 never arrived live
  expect(await take(s, 2)).toEqual([4, 5]);
  expect(box.reads).toContain(3); // read from the last delivered event
});

test('without a cursor it starts live, with no replay', async () => {
  const box = outbox([1, 2].map((s) => row(s)));
  const s = new EventStream({ orderId: ORDER }, null, box.read);
  s.catchUp();
  s.push(live(3));
  expect(await take(s, 1)).toEqual([3]);
  expect(box.reads).toEqual([]);
});

test('a shop stream orders by publication position and drops what it has seen', async () => {
  const box = outbox([row(1, 10), row(2, 11)]);
  const s = new EventStream({ merchantId: '7' }, 9, box.read);
  s.catchUp();
  await new Promise((r) => setImmediate(r));
  s.push(live(2, 11));
  s.push(live(3, 12));
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await s.next()).value.pos);
  expect(got).toEqual([10, 11, 12]);
});

test('a subscriber that does not read is cut off with an error naming the way back, and unsubscribed', async () => {
  let closed = 0;
  const s = new EventStream({ orderId: ORDER }, null, outbox([]).read, 3, () => closed++);
  for (let i = 1; i <= 5; i++) s.push(live(i));
  expect(await take(s, 3)).toEqual([1, 2, 3]);
  await expect(s.next()).rejects.toBeInstanceOf(StreamOverflowError);
  expect(closed).toBe(1);
  expect(await s.next()).toEqual({ value: undefined, done: true });
});

test('return() ends the stream and unsubscribes once', async () => {
  let closed = 0;
  const s = new EventStream({ orderId: ORDER }, null, outbox([]).read, 10, () => closed++);
  const pending = s.next();
  await s.return();
  await s.return();
  expect(await pending).toEqual({ value: undefined, done: true });
  expect(closed).toBe(1);
});
