import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisEventBus, type PublishedEvent } from '../../src/modules/events/event-bus';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-cluster';

/*
 * The Redis fan-out on a real redis-server: a batch published by one process reaches every other
 * in order, and a dropped subscriber connection is reported as a gap (the streams then catch up
 * from the outbox, since Redis pub/sub keeps nothing for absent subscribers). The same on a
 * 3-master Redis Cluster, where the channel is a sharded one (SPUBLISH/SSUBSCRIBE).
 */

let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster();
});
afterAll(() => cluster?.stop());

const log = pino({ level: 'silent' });
const event = (seq: number): PublishedEvent => ({
  id: String(seq),
  orderId: '1',
  buyerId: '2',
  merchantId: '3',
  seq,
  pos: seq,
  type: 'STATUS_CHANGED',
  status: 'PAID',
  shipmentId: null,
  afterSaleId: null,
  occurredAt: new Date().toISOString(),
});
const until = async (check: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.each(['redis', 'redis-cluster'] as const)('%s', (kind) => {
  const url = () => (kind === 'redis' ? process.env.TEST_REDIS_URL! : cluster.url);
  /** Drops every pub/sub connection (on every node of a cluster), as a network blip would. */
  const killPubsubClients = async () => {
    if (kind === 'redis-cluster') {
      for (const port of cluster.ports) cluster.cli(port, 'client', 'kill', 'type', 'pubsub');
      return;
    }
    const admin = new Redis(url());
    await admin.client('KILL', 'TYPE', 'pubsub');
    await admin.quit();
  };

  test('batches published on one bus arrive on every other, in order', async () => {
    const buses = [
      new RedisEventBus(url(), log),
      new RedisEventBus(url(), log),
      new RedisEventBus(url(), log),
    ];
    await Promise.all(buses.map((b) => b.start()));
    const seen: number[][] = buses.map(() => []);
    buses.forEach((b, i) =>
      b.listen({ onEvents: (batch) => seen[i].push(...batch.map((e) => e.seq)), onGap: () => undefined }),
    );
    for (let n = 1; n <= 100; n += 10)
      await buses[0].publish(Array.from({ length: 10 }, (_, k) => event(n + k)));
    await until(() => seen.every((s) => s.length === 100));
    for (const s of seen) expect(s).toEqual(Array.from({ length: 100 }, (_, k) => k + 1));
    await Promise.all(buses.map((b) => b.close()));
  });

  test('a subscriber connection that drops reports a gap when it is back, and receives again', async () => {
    const publisher = new RedisEventBus(url(), log);
    const subscriber = new RedisEventBus(url(), log);
    await Promise.all([publisher.start(), subscriber.start()]);
    let gaps = 0;
    const seen: number[] = [];
    subscriber.listen({ onEvents: (b) => seen.push(...b.map((e) => e.seq)), onGap: () => gaps++ });
    await killPubsubClients();
    await until(() => gaps === 1);
    await publisher.publish([event(7)]);
    // Published once, right after the gap: the subscription was live again when it was reported.
    await until(() => seen.includes(7));
    expect(gaps).toBe(1);
    await Promise.all([publisher.close(), subscriber.close()]);
  });
});
