import { Migration } from '@mikro-orm/migrations';

/**
 * A batch of a flash sale's Redis line stored in PostgreSQL by one statement: the line persister's
 * whole transaction (line lock, sale row, the checks, the insert, the stream position) in one round
 * trip and one commit. Every shopper Redis accepted waits for that commit (it is told QUEUED only
 * once its entry is stored), so the round trips of that transaction were what bounded acceptances:
 * on a loaded machine each took tens of milliseconds, and a batch took eight of them.
 *
 * flash_sale_persist_line(sale, expected cursor, new cursor, the entries as parallel arrays in line
 * order) returns one row (none when there is no such sale):
 * - outcome: STORED; CLOSED (the sale is closed: nothing stored); STALE (the sale's stream position
 *   is not `p_from`: another batch moved it; nothing stored, the caller reads again from
 *   `cursor_now`). `p_from` null skips that check.
 * - stored, refused: entries stored, and those refused (their customer over the limit, or the line
 *   over its capacity, counted in line order as if each came alone; possible only while Redis's
 *   counts are behind PostgreSQL's). An entry already stored (same id) is skipped, neither.
 * - pg_decided, sold_out: of the sale, for the caller's checks of the Redis copy.
 *
 * Lock order as everywhere (docs/flash-sales.md): the line lock, then the sale row. The function
 * is VOLATILE, so each statement in it takes a fresh snapshot: the counts read after the sale row
 * is locked include every entry committed before (decisions without Redis insert under that lock).
 */
export class Migration20261204200000_flash_sale_persist_line extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create function flash_sale_persist_line(
  p_sale bigint, p_from text, p_to text,
  p_ids text[], p_customers bigint[], p_keys text[], p_quantities int[], p_seqs int[], p_at timestamptz[])
returns table (outcome text, stored int, refused text[], cursor_now text, pg_decided int, sold_out boolean)
language plpgsql volatile as $fn$
declare
  s flash_sale%rowtype;
  v_fits boolean;
  v_stored int := 0;
  v_units int := 0;
  v_seq int := 0;
  v_refused text[] := '{}';
  v_line int;
  v_added jsonb := '{}';
  v_mine int;
  v_entry record;
begin
  perform pg_advisory_xact_lock(hashtextextended('flash_sale_line:' || p_sale, 0));
  select * into s from flash_sale f where f.id = p_sale for update;
  if not found then
    return;
  end if;
  if s.closed_at is not null or (p_from is not null and s.redis_cursor <> p_from) then
    return query select case when s.closed_at is not null then 'CLOSED' else 'STALE' end, 0, '{}'::text[],
      s.redis_cursor, s.pg_decided, s.sold_out;
    return;
  end if;

  -- The usual case: every new entry fits (Redis decided the same). Running totals in line order
  -- tell; then all of them are inserted by the same statement.
  with u as (
    select u.*, row_number() over (partition by u.id order by u.n) as k
      from unnest(p_ids, p_customers, p_keys, p_quantities, p_seqs, p_at) with ordinality as u(id, customer, ikey, q, seq, accepted, n)),
  fresh as (
    select u.* from u where u.k = 1 and not exists (select 1 from flash_sale_entry e where e.id = u.id)),
  held as (
    select e.customer_id, sum(e.quantity)::int as units from flash_sale_entry e
     where e.flash_sale_id = p_sale and e.customer_id in (select customer from fresh) group by e.customer_id),
  running as (
    select f.*, s.line_units + sum(f.q) over (order by f.n) as line_after,
           coalesce(h.units, 0) + sum(f.q) over (partition by f.customer order by f.n) as mine_after
      from fresh f left join held h on h.customer_id = f.customer),
  verdict as (
    select not coalesce(bool_or(line_after > s.line_capacity or mine_after > s.per_customer_limit), false) as fits
      from running),
  ins as (
    insert into flash_sale_entry (id, flash_sale_id, customer_id, idempotency_key, quantity, seq, status, created_at)
    select r.id, p_sale, r.customer, r.ikey, r.q, r.seq, 'QUEUED', r.accepted from running r, verdict v where v.fits
    on conflict do nothing returning quantity, seq)
  select v.fits, (select count(*) from ins), (select coalesce(sum(quantity), 0) from ins), (select coalesce(max(seq), 0) from ins)
    into v_fits, v_stored, v_units, v_seq from verdict v;

  if not v_fits then
    -- Some do not fit: one by one in line order, each as if it came alone.
    v_line := s.line_units;
    for v_entry in
      with u as (
        select u.*, row_number() over (partition by u.id order by u.n) as k
          from unnest(p_ids, p_customers, p_keys, p_quantities, p_seqs, p_at) with ordinality as u(id, customer, ikey, q, seq, accepted, n)),
      fresh as (
        select u.* from u where u.k = 1 and not exists (select 1 from flash_sale_entry e where e.id = u.id)),
      held as (
        select e.customer_id, sum(e.quantity)::int as units from flash_sale_entry e
         where e.flash_sale_id = p_sale and e.customer_id in (select customer from fresh) group by e.customer_id)
      select f.*, coalesce(h.units, 0) as held from fresh f left join held h on h.customer_id = f.customer order by f.n
    loop
      v_mine := v_entry.held + coalesce((v_added ->> v_entry.customer::text)::int, 0);
      if v_mine + v_entry.q > s.per_customer_limit or v_line + v_entry.q > s.line_capacity then
        v_refused := v_refused || v_entry.id;
        continue;
      end if;
      insert into flash_sale_entry (id, flash_sale_id, customer_id, idempotency_key, quantity, seq, status, created_at)
      values (v_entry.id, p_sale, v_entry.customer, v_entry.ikey, v_entry.q, v_entry.seq, 'QUEUED', v_entry.accepted) on conflict do nothing;
      if found then
        v_added := jsonb_set(v_added, array[v_entry.customer::text], to_jsonb(v_mine - v_entry.held + v_entry.q));
        v_line := v_line + v_entry.q;
        v_stored := v_stored + 1;
        v_units := v_units + v_entry.q;
        v_seq := greatest(v_seq, v_entry.seq);
      end if;
    end loop;
  end if;

  update flash_sale f set line_units = f.line_units + v_units, line_seq = greatest(f.line_seq, v_seq), redis_cursor = p_to
   where f.id = p_sale;
  return query select 'STORED', v_stored, v_refused, p_to, s.pg_decided, s.sold_out;
end
$fn$;
`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `drop function flash_sale_persist_line(bigint, text, text, text[], bigint[], text[], int[], int[], timestamptz[]);`,
    );
  }
}
