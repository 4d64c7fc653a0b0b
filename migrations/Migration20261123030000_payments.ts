import { Migration } from '@mikro-orm/migrations';

/** Payments (card through the provider, or balance), the provider's events, and refunds. */
export class Migration20261123030000_payments extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table payment (
  id bigint primary key,
  user_id bigint not null references app_user(id),
  checkout_id bigint references checkout(id),
  purpose text not null check (purpose in ('CHECKOUT', 'TOP_UP')),
  method text not null check (method in ('CARD', 'BALANCE')),
  status text not null default 'PENDING'
    check (status in ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'REFUNDED', 'PARTIALLY_REFUNDED')),
  amount bigint not null check (amount > 0),
  refunded bigint not null default 0,
  provider_ref text unique,
  redirect_url text,
  failure_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  settled_at timestamptz,
  -- refunded never exceeds paid, whatever races
  constraint payment_refund_within_amount check (refunded >= 0 and refunded <= amount),
  constraint payment_checkout_purpose check ((purpose = 'CHECKOUT') = (checkout_id is not null))
);
create index payment_checkout_idx on payment (checkout_id);
create index payment_user_idx on payment (user_id, id desc);
create index payment_pending_idx on payment (created_at) where status = 'PENDING';

-- The orders a checkout payment covers, and each one's share of it.
create table payment_order (
  payment_id bigint not null references payment(id),
  order_id bigint not null references shop_order(id),
  amount bigint not null check (amount >= 0),
  primary key (payment_id, order_id)
);
create index payment_order_order_idx on payment_order (order_id);

-- Each provider event is processed once: a repeat finds its id here and changes nothing.
create table provider_event (
  id text primary key,
  payment_id bigint references payment(id),
  type text not null,
  payload jsonb not null,
  received_at timestamptz not null default now()
);

create table refund (
  id bigint primary key,
  payment_id bigint not null references payment(id),
  order_id bigint references shop_order(id),
  amount bigint not null check (amount > 0),
  reason text not null,
  status text not null default 'PENDING' check (status in ('PENDING', 'SUCCEEDED', 'NEEDS_ATTENTION')),
  provider_ref text,
  attempts integer not null default 0,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index refund_payment_idx on refund (payment_id);
create index refund_order_idx on refund (order_id);
create index refund_open_idx on refund (created_at) where status = 'PENDING';
`);
  }
}
