import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { UserError, Result } from '../../shared/error-result';
import type { OutOfStockError } from '../inventory/inventory.errors';
import type { DurableWaiters } from './flashsale.durable';
import type { PrecheckBatcher } from './flashsale.precheck';
import type { RedisGate } from './flashsale.redis';
import type { EntryView } from './flashsale.types';
import type { LinePersisted } from './flashsale.updates';

/*
 * What the flash-sale use cases (creating a sale, entering it, rebuilding Redis's copy) share. The
 * service is this state: it hands itself to the functions of each file, so the callbacks that the
 * persister and the worker set on it later (onAccepted, onPersisted) and the rebuildAll flag are
 * the ones those functions see.
 */

export interface FlashSaleSettings {
  /** FLASH_SALE_PAYMENT_WINDOW_SECONDS: how long a flash-sale order waits for payment. */
  paymentWindowSeconds: number;
  /** FLASH_SALE_WAITLIST_PERCENT: the line accepts quantity × (1 + this/100) units. */
  waitlistPercent: number;
  /** FLASH_SALE_BATCH_SIZE: entries turned into orders per transaction. */
  batchSize: number;
  /** FLASH_SALE_WORKER_INTERVAL_MS: how often an idle worker looks for work. */
  workerIntervalMs: number;
  /**
   * FLASH_SALE_ACCEPT_WAIT_MS: how long an accepted shopper waits for a persist notification
   * before checking PostgreSQL and Redis itself (normally the notification comes in milliseconds).
   */
  acceptWaitMs: number;
}

export type EnterOutcome = Result<EntryView, UserError | OutOfStockError>;

/** One shopper's request to enter a sale, with the entry id its key names. */
export interface Entering {
  saleId: string;
  customerId: string;
  quantity: number;
  key: string;
  entryId: string;
}

/** What this process remembers of its decisions without Redis (used by flashsale.enter-pg.ts). */
export interface PgDecisions {
  /** Sales whose line is full, with every entry id in the line. */
  readonly fullLines: Map<string, { ids: Set<string>; startsAt: number; endsAt: number; variantId: string }>;
  /** The read before a decision, shared by the shoppers of a sale arriving together. */
  readonly prechecks: PrecheckBatcher;
  /** Acceptances under way in this process, by sale, and those waiting their turn. */
  readonly turns: Map<string, { running: number; queue: (() => void)[] }>;
}

export interface FlashSaleCore {
  readonly settings: FlashSaleSettings;
  readonly gate: RedisGate | null;
  readonly log: Logger;
  /** Shoppers whose accepted entry is on its way from the Redis line to PostgreSQL. */
  readonly waiters: DurableWaiters;
  readonly pgDecisions: PgDecisions;
  /** Every open sale's Redis copy must be rebuilt (Redis came back after being unreachable). */
  rebuildAll: boolean;
  /** Redis accepted an entry of the sale: wakes this process's line persister (set by it). */
  onAccepted: (saleId: string) => void;
  /** Entries reached PostgreSQL: wakes this process's worker (set by it). */
  onPersisted: () => void;
  /** Rebuilds a sale's Redis copy, one rebuild per sale at a time (flashsale.reconcile.ts). */
  reconcile(em: EntityManager, saleId: string, force: boolean): Promise<void>;
  /** Tells every process that part of a sale's line is in PostgreSQL (after the commit). */
  announcePersisted(p: LinePersisted): Promise<void>;
}
