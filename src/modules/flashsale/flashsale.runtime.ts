import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import { connectRedis, whenReady } from '../../shared/redis';
import type { CheckoutService } from '../checkout/checkout.service';
import type { OrderService } from '../order/order.service';
import { RedisGate } from './flashsale.redis';
import { LinePersister } from './flashsale.persister';
import type { FlashSaleService } from './flashsale.service';
import { LocalUpdateBus, RedisUpdateBus, type UpdateBus } from './flashsale.updates';
import { FlashSaleWorker } from './flashsale.worker';

/**
 * What a process runs for flash sales: the Redis gate and its line persister (with REDIS_URL), the
 * update bus, the worker (unless FLASH_SALE_WORKER=false).
 */
export interface FlashSaleRuntime {
  gate: RedisGate | null;
  bus: UpdateBus;
  worker?: FlashSaleWorker;
  persister?: LinePersister;
  startWorker(
    em: () => EntityManager,
    sales: FlashSaleService,
    checkout: CheckoutService,
    orders: OrderService,
  ): void;
  close(): Promise<void>;
}

export async function createFlashSaleRuntime(config: Config, log: Logger): Promise<FlashSaleRuntime> {
  if (!config.redisUrl) {
    const bus = new LocalUpdateBus();
    const rt: FlashSaleRuntime = {
      gate: null,
      bus,
      startWorker(em, sales, checkout, orders) {
        if (!config.flashSale.worker) return;
        rt.worker = new FlashSaleWorker(em, sales, checkout, orders, log);
        rt.worker.start();
      },
      async close() {
        await rt.worker?.stop();
        await bus.close();
      },
    };
    return rt;
  }
  // Decisions fail fast while Redis is away (PostgreSQL decides then), instead of queueing.
  // REDIS_URL may name a cluster: a sale's keys share a hash tag, so each script runs on one node.
  const redis = connectRedis(config.redisUrl, {
    purpose: 'flash sale',
    log,
    errorLevel: 'debug',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 10_000,
    retryStrategy: (n) => Math.min(50 * n, 1000),
  });
  // Not reachable at start: decisions go to PostgreSQL until it is.
  await whenReady(redis, 3000);
  const bus = new RedisUpdateBus(config.redisUrl, log, config.flashSale.redisPrefix);
  await bus
    .start()
    .catch((err) => log.warn({ err: err.message }, 'flash sale: update bus not subscribed yet'));
  const gate = new RedisGate(redis, config.flashSale.redisPrefix);
  const rt: FlashSaleRuntime = {
    gate,
    bus,
    startWorker(em, sales, checkout, orders) {
      // Every process that decides entries persists them (also one without a worker): a shopper
      // is told QUEUED only once the entry is in PostgreSQL.
      rt.persister = new LinePersister(em, sales, gate, log);
      // Rebuild every open sale's copy once at start (Redis may hold a stale one), and whenever
      // Redis is back after being away (it may have restarted empty, or from an old snapshot).
      sales.rebuildAll = true;
      gate.onConnectionChange((ready) => {
        // Shoppers waiting for their entry to be persisted look again: Redis may have lost it.
        sales.waiters.checkAll();
        if (!ready) return;
        sales.rebuildAll = true;
        rt.persister?.nudge();
      });
      rt.persister.start();
      if (!config.flashSale.worker) return;
      rt.worker = new FlashSaleWorker(em, sales, checkout, orders, log);
      rt.worker.start();
    },
    async close() {
      await rt.worker?.stop();
      await rt.persister?.stop();
      await bus.close();
      await redis.quit().catch(() => undefined);
    },
  };
  return rt;
}
