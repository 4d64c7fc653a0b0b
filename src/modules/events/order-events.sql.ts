/**
 * The outbox insert as a fragment of another module's one-statement write (the checkout write, the
 * balance settlement): the SQL that writes `order_event` stays in the events module, and the
 * caller saves a round trip. The caller must call `markEventsWritten()` (outbox-signal.ts) before
 * running the statement, as `insertEvent` does.
 *
 * `select` yields (order_id, buyer_id, merchant_id, seq, type, status) for each new event.
 */
export const insertOrderEventsFrom = (select: string): string =>
  `insert into order_event (order_id, buyer_id, merchant_id, seq, type, status) ${select}`;
