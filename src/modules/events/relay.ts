import pg from 'pg';
import type { Logger } from 'pino';
import type { DbTimeouts } from '../../config';
import { unavailableReason } from '../../db/pg-errors';
import { DEFAULT_DB_TIMEOUTS, pgTimeoutSettings } from '../../db/pg-settings';
import { toPublished, type EventBus } from './event-bus';
import type { OrderEventRow } from './order-events';

/** Any constant: the session lock that makes one process the relay. */
const RELAY_LOCK = 7_340_001;
const BATCH = 1000;

/**
 * Numbers committed events with their publication position and hands them to the pub/sub.
 *
 * One process leads (a PostgreSQL session advisory lock: it dies with the connection, so a
 * crashed leader is replaced within a poll interval). The leader is woken by NOTIFY order_event
 * (sent by writers after their commit: outbox-signal.ts) and polls as a backstop. Events of one order are inserted
 * while holding the order's row lock, so taking visible events in id order keeps each order's
 * events in their commit order. Positions are saved before publishing and the published position
 * after: a leader that dies between the two leaves a range the next leader publishes again, and
 * subscribers drop what they have already seen. No event is lost, none reaches a client twice.
 */
export class OutboxRelay {
  private client?: pg.Client;
  private leader = false;
  private running = false;
  private pending = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly pollMs = 1000,
    private readonly timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS,
  ) {}

  async start(): Promise<void> {
    await this.connect();
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.wake();
  }

  isLeader(): boolean {
    return this.leader;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: 'commerce-outbox-relay',
      ...pgTimeoutSettings(this.timeouts),
    });
    client.on('error', (err) => {
      // The lock went with the connection: lead again only after reconnecting and re-taking it.
      this.log.warn({ err: err.message }, 'outbox relay connection lost');
      this.leader = false;
      if (this.client === client) this.client = undefined;
    });
    client.on('notification', () => this.wake());
    await client.connect();
    // Recording the published position need not wait for a flush (losing it only means some events
    // are published again); numbering does (see assign).
    await client.query('set synchronous_commit = off');
    this.client = client;
  }

  /** Runs one pass now, or right after the running one (never two at once). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = true;
    void this.pass()
      .catch((err) => {
        this.log.error({ err }, 'outbox relay pass failed; retrying on the next tick');
        // The database did not answer (frozen, gone, timed out): start over on a new connection
        // rather than queue behind a query that may never return. Its session lock goes with it.
        if (unavailableReason(err)) this.dropClient();
      })
      .finally(() => {
        this.running = false;
        if (this.pending) {
          this.pending = false;
          this.wake();
        }
      });
  }

  private async pass(): Promise<void> {
    if (!this.client) await this.connect();
    const client = this.client!;
    if (!this.leader) {
      const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
        RELAY_LOCK,
      ]);
      if (!rows[0].ok) return;
      this.leader = true;
      // Only the leader listens: the other processes are not woken by every commit.
      await client.query('listen order_event');
      this.log.info('this process now relays order events');
      await this.republishUnconfirmed(client);
    }
    for (;;) {
      const batch = await this.assign(client);
      if (batch.length === 0) return;
      await this.publish(client, batch);
      if (batch.length < BATCH) return;
    }
  }

  /**
   * Gives the next committed, unnumbered events their positions (one statement, one durable
   * commit: a position, once published, must never be given to another event).
   */
  private async assign(client: pg.Client): Promise<OrderEventRow[]> {
    await client.query('begin');
    try {
      await client.query('set local synchronous_commit = on');
      const rows = await this.number(client);
      await client.query('commit');
      return rows;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    }
  }

  private async number(client: pg.Client): Promise<OrderEventRow[]> {
    const { rows } = await client.query<OrderEventRow>(
      `with relay as (select assigned_pos from outbox_relay for update),
            next as (
              select e.id, (select assigned_pos from relay) + row_number() over (order by e.id) as pos
                from order_event e where e.pos is null order by e.id limit $1
            ),
            numbered as (update order_event e set pos = n.pos from next n where e.id = n.id returning e.*),
            moved as (update outbox_relay set assigned_pos = coalesce((select max(pos) from next), assigned_pos))
       select * from numbered order by pos`,
      [BATCH],
    );
    return rows;
  }

  private async publish(client: pg.Client, batch: OrderEventRow[]): Promise<void> {
    await this.bus.publish(batch.map(toPublished));
    await client.query('update outbox_relay set published_pos = greatest(published_pos, $1)', [
      batch.at(-1)!.pos,
    ]);
  }

  /** A new leader first publishes what its predecessor numbered but may not have published. */
  private async republishUnconfirmed(client: pg.Client): Promise<void> {
    for (;;) {
      const { rows } = await client.query<OrderEventRow>(
        'select * from order_event where pos > (select published_pos from outbox_relay) order by pos limit $1',
        [BATCH],
      );
      if (rows.length === 0) return;
      this.log.info({ events: rows.length }, 'publishing events numbered by the previous relay');
      await this.publish(client, rows);
    }
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    this.leader = false;
    void client?.end().catch(() => undefined); // ends the socket at once when a query is stuck
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
    this.leader = false;
  }
}
