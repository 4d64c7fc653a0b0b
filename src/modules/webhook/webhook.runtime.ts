import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { WebhookConfig } from '../../config';
import type { EventBus } from '../events/event-bus';
import { WebhookDispatcher } from './webhook.dispatcher';
import type { WebhookService } from './webhook.service';
import { DeliveryWorker } from './webhook.worker';

export interface WebhookRuntime {
  dispatcher: WebhookDispatcher;
  worker: DeliveryWorker;
  stop(): Promise<void>;
}

/** Starts this process's webhook dispatcher (woken by the event bus) and delivery worker. */
export function startWebhookDelivery(
  orm: MikroORM,
  bus: EventBus,
  service: WebhookService,
  config: WebhookConfig,
  log: Logger,
): WebhookRuntime {
  const em = () => orm.em.fork() as EntityManager;
  const worker = new DeliveryWorker(em, config, () => service.resolve, log);
  const dispatcher = new WebhookDispatcher(em, config.maxAttempts, config.pollMs, () => worker.wake(), log);
  service.onDue = () => worker.wake();
  bus.listen(dispatcher);
  dispatcher.start();
  worker.start();
  return {
    dispatcher,
    worker,
    async stop() {
      await dispatcher.stop();
      await worker.stop();
    },
  };
}
