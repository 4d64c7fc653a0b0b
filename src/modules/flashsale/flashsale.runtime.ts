import type { EntityManager } from '@mikro-orm/postgresql';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { CheckoutService } from '../checkout/checkout.service';
import type { OrderService } from '../order/order.service';
import { RedisGate } from './flashsale.redis';
import type { FlashSaleService } from './flashsale.service';
import { LocalUpdateBus, RedisUpdateBus, type UpdateBus } from './flashsale.updates';
import { FlashSaleWorker } from './flashsale.worker';

/** What a process runs for flash sales: the Redis gate (with REDIS_URL), the update bus, the worker. */
export interface FlashSaleRuntime {
  gate: RedisGate | null;
  bus: UpdateBus;
  worker?: FlashSaleWorker;
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
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 10_000,
    retryStrategy: (n) => Math.min(50 * n, 1000),
  });
  redis.on('error', (err) => log.debug({ err: err.message }, 'flash sale: redis connection error'));
  await new Promise<void>((resolve) => {
    if (redis.status === 'ready') resolve();
    redis.once('ready', () => resolve());
    setTimeout(resolve, 3000); // not reachable at start: decisions go to PostgreSQL until it is
  });
  const bus = new RedisUpdateBus(config.redisUrl, log, config.flashSale.redisPrefix);
  await bus
    .start()
    .catch((err) => log.warn({ err: err.message }, 'flash sale: update bus not subscribed yet'));
  const gate = new RedisGate(redis, config.flashSale.redisPrefix);
  let connectedOnce = redis.status === 'ready';
  const rt: FlashSaleRuntime = {
    gate,
    bus,
    startWorker(em, sales, checkout, orders) {
      // Redis back after being away: its copy may be stale or empty; rebuild every open sale's.
      redis.on('ready', () => {
        if (!connectedOnce) {
          connectedOnce = true;
          return;
        }
        void sales
          .reconcileAll(em(), true)
          .catch((err) => log.warn({ err: err.message }, 'flash sale: reconcile after reconnect'));
      });
      if (!config.flashSale.worker) return;
      rt.worker = new FlashSaleWorker(em, sales, checkout, orders, log);
      rt.worker.start();
    },
    async close() {
      await rt.worker?.stop();
      await bus.close();
      await redis.quit().catch(() => undefined);
    },
  };
  return rt;
}
