import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import { TOPIC_OF_EVENT_SQL, type WebhookTopic } from './webhook.topics';

/**
 * The only writer of the webhook tables (webhook_endpoint, webhook_delivery, webhook_dispatch).
 * Everything here is one statement, so each is its own transaction unless the caller's `em` is in one.
 */

export interface EndpointRow {
  id: string;
  merchant_id: string;
  url: string;
  topics: WebhookTopic[];
  secret: string;
  start_pos: string;
  created_at: Date;
  deleted_at: Date | null;
}

export type DeliveryStatus = 'PENDING' | 'DELIVERED' | 'RETRYING' | 'DEAD';

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  topic: WebhookTopic;
  status: DeliveryStatus;
  attempts: number;
  dead_after: number;
  next_attempt_at: Date | null;
  locked_until: Date | null;
  claim_token: string | null;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
}

/** A delivery a worker holds, with what it needs to send it. */
export interface ClaimedDelivery {
  id: string;
  claim_token: string;
  attempts: number;
  dead_after: number;
  topic: WebhookTopic;
  created_at: Date;
  url: string;
  secret: string;
  endpoint_id: string;
  event_id: string;
  order_id: string;
  merchant_id: string;
  seq: number;
  status: string;
  shipment_id: string | null;
  after_sale_id: string | null;
  occurred_at: Date;
}

// ------------------------------------------------------------------ endpoints

export async function insertEndpoint(
  em: EntityManager,
  e: { merchantId: string; url: string; topics: WebhookTopic[]; secret: string },
): Promise<EndpointRow> {
  // Starts after the last numbered event: nothing from before the registration is sent.
  const [row] = await sqlAll<EndpointRow>(
    em,
    `insert into webhook_endpoint (merchant_id, url, topics, secret, start_pos)
     values ($1, $2, $3::text[], $4, (select assigned_pos from outbox_relay)) returning *`,
    [e.merchantId, e.url, e.topics, e.secret],
  );
  return row;
}

export async function countLiveEndpoints(em: EntityManager, merchantId: string): Promise<number> {
  const [{ n }] = await sqlAll<{ n: number }>(
    em,
    'select count(*)::int as n from webhook_endpoint where merchant_id = $1 and deleted_at is null',
    [merchantId],
  );
  return n;
}

/** Serializes registrations of one shop (the endpoint limit), in the caller's transaction. */
export async function lockMerchant(tx: EntityManager, merchantId: string): Promise<boolean> {
  const rows = await sqlAll(tx, 'select id from merchant where id = $1 for update', [merchantId]);
  return rows.length > 0;
}

export function liveEndpoints(em: EntityManager, merchantId: string): Promise<EndpointRow[]> {
  return sqlAll<EndpointRow>(
    em,
    'select * from webhook_endpoint where merchant_id = $1 and deleted_at is null order by id',
    [merchantId],
  );
}

/** Deleted ones too (deleted_at set). */
export async function findEndpoint(em: EntityManager, id: string): Promise<EndpointRow | undefined> {
  const [row] = await sqlAll<EndpointRow>(em, 'select * from webhook_endpoint where id = $1', [id]);
  return row;
}

/**
 * Deleting keeps the row (its deliveries stay listed in the database) but stops every delivery
 * still due: the claim query only takes deliveries of live endpoints.
 */
export async function markEndpointDeleted(em: EntityManager, id: string): Promise<boolean> {
  const rows = await sqlAll(
    em,
    'update webhook_endpoint set deleted_at = now() where id = $1 and deleted_at is null returning id',
    [id],
  );
  return rows.length > 0;
}

// ------------------------------------------------------------------ deliveries for clients

export async function findDelivery(
  em: EntityManager,
  id: string,
): Promise<(DeliveryRow & { merchant_id: string; endpoint_deleted: boolean }) | undefined> {
  const [row] = await sqlAll<DeliveryRow & { merchant_id: string; endpoint_deleted: boolean }>(
    em,
    `select d.*, ep.merchant_id, ep.deleted_at is not null as endpoint_deleted
       from webhook_delivery d join webhook_endpoint ep on ep.id = d.endpoint_id where d.id = $1`,
    [id],
  );
  return row;
}

/**
 * Makes a delivery due now with a fresh set of attempts, whatever its status. An attempt in flight
 * loses its claim (its outcome is not recorded), so the delivery is sent again right away.
 */
export async function redeliver(em: EntityManager, id: string, maxAttempts: number): Promise<DeliveryRow> {
  const [row] = await sqlAll<DeliveryRow>(
    em,
    `update webhook_delivery set status = 'PENDING', next_attempt_at = now(), dead_after = attempts + $2,
            locked_until = null, claim_token = null
      where id = $1 returning *`,
    [id, maxAttempts],
  );
  return row;
}

/** Newest first, per endpoint: one statement for every endpoint of a list. */
export function deliveryPages(
  em: EntityManager,
  endpointIds: string[],
  status: DeliveryStatus | null,
  limit: number,
  beforeId: string | null,
): Promise<DeliveryRow[]> {
  return sqlAll<DeliveryRow>(
    em,
    `select d.* from unnest($1::bigint[]) as ep(id)
       cross join lateral (
         select * from webhook_delivery d
          where d.endpoint_id = ep.id and ($2::text is null or d.status = $2::text)
            and ($3::bigint is null or d.id < $3::bigint)
          order by d.id desc limit $4
       ) d`,
    [endpointIds, status, beforeId, limit],
  );
}

// ------------------------------------------------------------------ the dispatcher

/**
 * Turns the next published order events into deliveries, once: takes the dispatcher's cursor row
 * (SKIP LOCKED: another process already dispatching makes this a no-op), inserts one delivery per
 * (event, live endpoint of the event's shop subscribed to its topic), and moves the cursor past
 * the events, all in this one statement's transaction. Positions become visible in increasing
 * order (one relay numbers them under the outbox_relay row lock), so `pos > cursor` never skips one.
 */
export async function dispatchNext(
  em: EntityManager,
  batch: number,
  maxAttempts: number,
): Promise<{ locked: boolean; events: number; deliveries: number }> {
  const [r] = await sqlAll<{ locked: boolean; events: number; deliveries: number }>(
    em,
    `with cursor as (select dispatched_pos from webhook_dispatch where id = 1 for update skip locked),
          events as (
            select e.id, e.merchant_id, e.pos, ${TOPIC_OF_EVENT_SQL} as topic
              from order_event e
             where e.pos > (select dispatched_pos from cursor)
             order by e.pos limit $1
          ),
          inserted as (
            insert into webhook_delivery (endpoint_id, event_id, topic, dead_after, next_attempt_at)
            select ep.id, e.id, e.topic, $2, now()
              from events e
              join webhook_endpoint ep
                on ep.merchant_id = e.merchant_id and ep.deleted_at is null
               and e.pos > ep.start_pos and e.topic = any(ep.topics)
             order by e.pos, ep.id
            on conflict (event_id, endpoint_id) do nothing
            returning 1
          ),
          moved as (
            update webhook_dispatch set dispatched_pos = (select max(pos) from events)
             where id = 1 and exists (select 1 from events) returning 1
          )
     select exists (select 1 from cursor) as locked,
            (select count(*) from events)::int as events,
            (select count(*) from inserted)::int as deliveries`,
    [batch, maxAttempts],
  );
  return r;
}

// ------------------------------------------------------------------ the delivery workers

/**
 * Runs a worker statement in a transaction that does not wait for its WAL flush. Under load an
 * fsync per delivery was most of a delivery's cost; what a PostgreSQL crash could lose here is
 * only a lease (it would have expired anyway) or an outcome (the delivery is sent again with the
 * same webhook-id): at least once still holds. The dispatcher, which makes deliveries, waits.
 */
function withoutFlush<T>(em: EntityManager, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  return em.fork().transactional(async (tx) => {
    await sqlAll(tx as EntityManager, 'set local synchronous_commit = off');
    return fn(tx as EntityManager);
  });
}

/** The columns of a claimed delivery, as text where JSON would lose 64-bit ids. */
const CLAIMED_COLUMNS = `c.id::text, c.claim_token, c.attempts, c.dead_after, c.topic, c.created_at,
  c.endpoint_id::text, c.event_id::text, ep.url, ep.secret, e.order_id::text, e.merchant_id::text, e.seq,
  e.status, e.shipment_id::text, e.after_sale_id::text, e.created_at as occurred_at`;

/**
 * Leases up to `limit` due deliveries of live endpoints, at most `perEndpoint` in flight per
 * endpoint counting every process's leases, so one slow receiver holds a bounded share of the
 * workers. Rows another worker is claiming are skipped (SKIP LOCKED), never waited for.
 * Endpoints are visited in random order so that, under load, every endpoint gets its turn.
 */
export function claimDue(
  em: EntityManager,
  o: { limit: number; perEndpoint: number; leaseMs: number },
): Promise<ClaimedDelivery[]> {
  return withoutFlush(em, (tx) =>
    sqlAll<ClaimedDelivery>(
      tx,
      `with picked as (
       select d.id from (select id from webhook_endpoint where deleted_at is null order by random()) ep
        cross join lateral (
          select d.id from webhook_delivery d
           where d.endpoint_id = ep.id and d.status in ('PENDING', 'RETRYING') and d.next_attempt_at <= now()
             and (d.locked_until is null or d.locked_until < now())
           order by d.next_attempt_at, d.id
           limit greatest(0, $2 - (select count(*) from webhook_delivery x
                                    where x.endpoint_id = ep.id and x.locked_until >= now()))
           for update skip locked
        ) d
        limit $1
     ),
     claimed as (
       update webhook_delivery d
          set locked_until = now() + $3 * interval '1 millisecond', claim_token = gen_random_uuid()
         from picked where d.id = picked.id
       returning d.*
     )
     select ${CLAIMED_COLUMNS}
       from claimed c
       join webhook_endpoint ep on ep.id = c.endpoint_id
       join order_event e on e.id = c.event_id`,
      [o.limit, o.perEndpoint, o.leaseMs],
    ),
  );
}

/** An attempt's outcome: delivered (2xx), or failed with a wait before the next attempt. */
export type RecordedOutcome =
  | { delivered: true; statusCode: number }
  | { delivered: false; statusCode: number | null; error: string; retryInMs: number };

/**
 * Records an attempt's outcome and, in the same statement, leases the endpoint's next due
 * delivery if the endpoint has a free slot, so a busy endpoint costs one statement per delivery
 * and its worker slot goes straight on. The outcome is recorded only by the worker that still
 * holds the claim (a late or overtaken attempt changes nothing). A failure makes the delivery
 * RETRYING after `retryInMs`, or DEAD when it was the last attempt allowed.
 */
export async function recordAndClaimNext(
  em: EntityManager,
  d: { id: string; token: string; endpointId: string },
  o: RecordedOutcome,
  next: { perEndpoint: number; leaseMs: number } | null,
): Promise<{ recorded: DeliveryStatus | null; next: ClaimedDelivery | null }> {
  const [row] = await withoutFlush(em, (tx) =>
    sqlAll<{ recorded: DeliveryStatus | null; next: ClaimedDelivery[] | null }>(
      tx,
      `with done as (
       update webhook_delivery
          set attempts = attempts + 1, last_status_code = $4, last_error = $5, last_attempt_at = now(),
              status = case when $6::boolean then 'DELIVERED' when attempts + 1 >= dead_after then 'DEAD'
                            else 'RETRYING' end,
              delivered_at = case when $6::boolean then now() else delivered_at end,
              next_attempt_at = case when $6::boolean or attempts + 1 >= dead_after then null
                                     else now() + $7 * interval '1 millisecond' end,
              locked_until = null, claim_token = null
        where id = $1 and claim_token = $2::uuid
       returning status
     ),
     picked as (
       select d.id from webhook_delivery d
        where $8::boolean and d.endpoint_id = $3 and d.id <> $1
          and d.status in ('PENDING', 'RETRYING') and d.next_attempt_at <= now()
          and (d.locked_until is null or d.locked_until < now())
          and exists (select 1 from webhook_endpoint ep where ep.id = $3 and ep.deleted_at is null)
          and (select count(*) from webhook_delivery x
                where x.endpoint_id = $3 and x.locked_until >= now() and x.id <> $1) < $9
        order by d.next_attempt_at, d.id limit 1
        for update skip locked
     ),
     claimed as (
       update webhook_delivery d
          set locked_until = now() + $10 * interval '1 millisecond', claim_token = gen_random_uuid()
         from picked where d.id = picked.id
       returning d.*
     )
     select (select status from done) as recorded,
            (select json_agg(x) from (
               select ${CLAIMED_COLUMNS} from claimed c
                 join webhook_endpoint ep on ep.id = c.endpoint_id
                 join order_event e on e.id = c.event_id) x) as next`,
      [
        d.id,
        d.token,
        d.endpointId,
        o.statusCode,
        o.delivered ? null : o.error,
        o.delivered,
        o.delivered ? 0 : o.retryInMs,
        next !== null,
        next?.perEndpoint ?? 0,
        next?.leaseMs ?? 0,
      ],
    ),
  );
  const n = row.next?.[0];
  return { recorded: row.recorded, next: n ? { ...n, created_at: new Date(n.created_at) } : null };
}

/** Gives claims back at shutdown, so another process (or the next start) sends them at once. */
export async function releaseClaims(em: EntityManager, tokens: string[]): Promise<void> {
  if (tokens.length === 0) return;
  await sqlAll(
    em,
    'update webhook_delivery set locked_until = null, claim_token = null where claim_token = any($1::uuid[])',
    [tokens],
  );
}
