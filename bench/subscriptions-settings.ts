/** The settings of the subscriptions benchmark (bench/subscriptions.ts) and the clock every part reads. */

export const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 5000);
export const RATE = Number(process.env.BENCH_EVENTS_PER_SEC ?? 500);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
/** Connections being opened at once. */
export const CONNECTING = 200;
/**
 * Producer transactions in flight at most (the producer's pool). Commits of transactions that
 * NOTIFY are serialized by PostgreSQL, so the producer needs many in flight to keep the rate.
 */
export const PRODUCER_POOL = Number(process.env.BENCH_PRODUCERS ?? 50);
export const JWT_SECRET = 'bench-subscriptions-jwt-secret-0123456789';
export const ORDER_EVENTS =
  'subscription($o: ID!) { orderEvents(orderId: $o) { id orderId type status occurredAt } }';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds on CLOCK_MONOTONIC: the producer process reads the same clock. */
export const now = () => Number(process.hrtime.bigint()) / 1e6;
