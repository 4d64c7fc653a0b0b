import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { LineRead, RedisGate } from './flashsale.redis';
import type { FlashSaleService } from './flashsale.service';
import * as store from './flashsale.store';
import type { FlashSaleRow } from './flashsale.types';

/** The sweep's period at least (it is a safety net: acceptances wake the persister at once). */
const MIN_SWEEP_MS = 250;

/** Line entries persisted per transaction at most (a longer line takes several, back to back). */
const READ_BATCH = 2000;

/**
 * Batches of one sale under way in this process at most: one writing, the next already waiting for
 * the line lock, so it starts the moment the previous one commits (its BEGIN and lock statement are
 * off the critical path) and takes everything accepted meanwhile.
 */
const PIPELINE = 2;

/**
 * Moves accepted entries from the Redis line into PostgreSQL, at once: every process with Redis
 * runs one (also when it runs no worker), woken by each acceptance of its own, so the shoppers it
 * answers wait only for the next batch commit (group commit: whatever was accepted while the
 * previous batch was written goes in the next one). Every few moments it also looks after each
 * open sale's line and copy, for entries accepted by a process that died before persisting them,
 * and to rebuild a copy that PostgreSQL has moved past (decisions taken without Redis, a copy
 * missing after a Redis restart, a sold-out flag Redis did not get).
 */
export class LinePersister {
  private running = false;
  private loop?: Promise<void>;
  private readonly poked = new Set<string>();
  /** Batches under way, by sale (at most PIPELINE each), and every one of them (for stop()). */
  private readonly inFlight = new Map<string, number>();
  private readonly batches = new Set<Promise<void>>();
  /** Where the next batch of each sale starts: the stream position the last batch read leaves. */
  private readonly cursors = new Map<string, string>();
  /** Sales poked while their pipeline was full. */
  private readonly waiting = new Set<string>();
  private wake?: () => void;

  constructor(
    private readonly em: () => EntityManager,
    private readonly sales: FlashSaleService,
    private readonly gate: RedisGate,
    private readonly log: Logger,
  ) {
    sales.onAccepted = (saleId) => this.poke(saleId);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      let lastSweep = 0;
      while (this.running) {
        if (!this.gate.connected) {
          // Redis away: nothing to read; what was poked stays for when it is back.
          await this.idle();
          continue;
        }
        try {
          if (this.sales.rebuildAll) await this.sales.reconcileAll(this.em(), true);
          const due = Date.now() - lastSweep >= Math.max(this.intervalMs, MIN_SWEEP_MS);
          const ids = [...this.poked];
          this.poked.clear();
          for (const id of ids) this.launch(id);
          if (due) {
            lastSweep = Date.now();
            await this.sweep();
          }
        } catch (err) {
          this.warn(err, 'round failed; retried');
          await new Promise((r) => setTimeout(r, Math.min(this.intervalMs, 200)));
        }
        if (this.running && this.poked.size === 0) await this.idle();
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    while (this.batches.size) await Promise.allSettled([...this.batches]);
  }

  /**
   * A batch of the sale's line now, unless PIPELINE batches are under way: then the sale stays
   * poked, and the batch that finishes first launches the next (group commit: whatever was accepted
   * while a batch was written goes into the next one).
   */
  private launch(saleId: string): void {
    const n = this.inFlight.get(saleId) ?? 0;
    if (n >= PIPELINE) {
      this.waiting.add(saleId);
      return;
    }
    this.inFlight.set(saleId, n + 1);
    const batch = this.persist(saleId).then(
      (more) => more,
      (err) => {
        this.warn(err, `sale ${saleId}; retried by the next round`);
        return false;
      },
    );
    const done = batch.then((more) => {
      const left = (this.inFlight.get(saleId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(saleId, left);
      else this.inFlight.delete(saleId);
      this.batches.delete(done);
      // More in the line than one batch reads, or acceptances that found the pipeline full.
      if (this.running && (this.waiting.delete(saleId) || more)) this.poke(saleId);
    });
    this.batches.add(done);
  }

  poke(saleId: string): void {
    this.poked.add(saleId);
    this.wake?.();
  }

  /** A round now (a rebuild is due). */
  nudge(): void {
    this.wake?.();
  }

  /** Sleeps until poked or the next sweep is due; each sleep has its own wake (never a stale one). */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(this.intervalMs, MIN_SWEEP_MS));
      this.wake = done;
    });
  }

  /** Every open sale: its copy checked against PostgreSQL, its line persisted. */
  private async sweep(): Promise<void> {
    if (!this.gate.connected) return;
    for (const sale of await store.openSales(this.em())) {
      try {
        await this.persist(String(sale.id));
      } catch (err) {
        this.warn(err, `sale ${sale.id}`);
      }
    }
  }

  /**
   * One batch of a sale's line into PostgreSQL, announced after the commit; true when the line may
   * hold more. Also where a copy that PostgreSQL has moved past is noticed and rebuilt.
   *
   * The batch is read from Redis after the position the previous batch of this process will leave
   * (`cursors`, set when that batch was read), and stored by one statement that first waits for
   * the line lock: a batch launched while the previous one is being written is stored the moment
   * that one commits, with no round trip in between. When the position is not the expected one
   * (another process's batch came first, or the previous batch failed), nothing is stored and the
   * batch is read again from the position PostgreSQL has.
   */
  async persist(saleId: string): Promise<boolean> {
    const em = this.em();
    for (let attempt = 1; ; attempt++) {
      let from = this.cursors.get(saleId);
      let sale: FlashSaleRow | null = null;
      if (from === undefined) {
        sale = await store.saleById(em, saleId);
        if (!sale || sale.closed_at) return false;
        from = sale.redis_cursor;
      }
      const read = await this.gate.read(saleId, from, READ_BATCH);
      if (!read.epoch || read.entries.length === 0) {
        sale ??= await store.saleById(em, saleId);
        if (!sale || sale.closed_at) return false;
        await this.checkCopy(saleId, read, {
          pgDecided: sale.pg_decided,
          soldOut: sale.sold_out,
          refused: 0,
        });
        return false;
      }
      this.cursors.set(saleId, read.cursor); // where the next batch starts
      let out: store.LinePersistOutcome | null;
      try {
        out = await store.persistLine(em, saleId, from, read.entries, read.cursor);
      } catch (err) {
        this.cursors.delete(saleId);
        throw err;
      }
      if (!out || out.outcome === 'CLOSED') {
        this.cursors.delete(saleId);
        return false;
      }
      if (out.outcome === 'STALE') {
        // Another batch moved the position: read again from where PostgreSQL has it.
        if (this.cursors.get(saleId) === read.cursor) this.cursors.set(saleId, out.cursor);
        if (attempt >= 5) return true; // contended: the next round goes on
        continue;
      }
      // This process's shoppers are answered at once; the other processes' over the bus, and the
      // stream trimmed, without holding up the next batch (neither is needed for correctness: a
      // lost announcement costs a waiting shopper a read, the stream is re-read by position).
      const announced = this.sales.announcePersisted({
        saleId,
        epoch: read.epoch,
        upTo: read.entries[read.entries.length - 1].seq,
        refused: out.refused,
      });
      void announced
        .then(() => this.gate.trim(saleId, read.cursor))
        .catch((err) => this.warn(err, `sale ${saleId}: announcing a batch`));
      if (await this.checkCopy(saleId, read, { ...out, refused: out.refused.length })) return false;
      return read.entries.length === READ_BATCH;
    }
  }

  /**
   * Rebuilds the sale's copy when there is none (a new or restarted Redis), PostgreSQL decided
   * entries the copy does not count, or Redis counted entries PostgreSQL refused; tells Redis the
   * sale is sold out when it missed that. True when the copy was rebuilt.
   */
  private async checkCopy(
    saleId: string,
    read: LineRead,
    pg: { pgDecided: number; soldOut: boolean; refused: number },
  ): Promise<boolean> {
    if (!read.epoch || pg.pgDecided > read.pgDecided || pg.refused > 0) {
      if (pg.refused > 0) this.log.warn({ saleId, refused: pg.refused }, 'flash sale: line entries refused');
      this.cursors.delete(saleId);
      await this.sales.reconcile(this.em(), saleId, read.epoch !== null);
      return true;
    }
    if (pg.soldOut && !read.soldOut) await this.gate.setSoldOut(saleId);
    return false;
  }

  /** FLASH_SALE_WORKER_INTERVAL_MS: the sweep's period, at least 250 ms (acceptances wake it at once). */
  private get intervalMs(): number {
    return this.sales.settings.workerIntervalMs;
  }

  private warn(err: unknown, what: string): void {
    this.log.warn({ err: String((err as Error).message).slice(-300) }, `flash-sale line: ${what}`);
  }
}
