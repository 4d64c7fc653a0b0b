import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { inTransaction } from '../../db/transaction';
import type { RedisGate } from './flashsale.redis';
import type { FlashSaleService } from './flashsale.service';
import * as store from './flashsale.store';

/** Line entries persisted per transaction at most (a longer line takes several, back to back). */
const READ_BATCH = 2000;

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
          const due = Date.now() - lastSweep >= this.intervalMs;
          const ids = [...this.poked];
          this.poked.clear();
          for (const id of ids) if (await this.persist(id)) this.poked.add(id); // more in the line
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
      const timer = setTimeout(done, this.intervalMs);
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
   */
  async persist(saleId: string): Promise<boolean> {
    const out = await inTransaction(this.em(), async (tx) => {
      // Waits for another process persisting the same line: ours then takes what follows it.
      await store.lockLine(tx, saleId, true);
      const sale = await store.saleById(tx, saleId);
      if (!sale || sale.closed_at) return null;
      const read = await this.gate.read(saleId, sale.redis_cursor, READ_BATCH);
      if (!read.epoch || read.entries.length === 0) return { sale, read, result: null };
      const result = await store.persistLine(tx, sale, read.entries, read.cursor);
      return { sale, read, result };
    });
    if (!out) return false;
    const { sale, read, result } = out;
    if (result && read.epoch) {
      await this.sales.announcePersisted({
        saleId,
        epoch: read.epoch,
        upTo: read.entries[read.entries.length - 1].seq,
        refused: result.refused,
      });
      await this.gate.trim(saleId, read.cursor).catch(() => undefined);
    }
    if (!read.epoch || sale.pg_decided > read.pgDecided || (result?.refused.length ?? 0) > 0) {
      // No copy (a new or restarted Redis), PostgreSQL decided entries the copy does not count, or
      // Redis counted entries PostgreSQL refused: the copy is rebuilt from PostgreSQL.
      if (result?.refused.length)
        this.log.warn({ saleId, refused: result.refused.length }, 'flash sale: line entries refused');
      await this.sales.reconcile(this.em(), saleId, read.epoch !== null);
      return false;
    }
    if (sale.sold_out && !read.soldOut) await this.gate.setSoldOut(saleId);
    return read.entries.length === READ_BATCH;
  }

  /** FLASH_SALE_WORKER_INTERVAL_MS: the sweep's period (acceptances wake the persister at once). */
  private get intervalMs(): number {
    return this.sales.settings.workerIntervalMs;
  }

  private warn(err: unknown, what: string): void {
    this.log.warn({ err: String((err as Error).message).slice(-300) }, `flash-sale line: ${what}`);
  }
}
