import WebSocket from 'ws';
import { CONNECTING, now, ORDER_EVENTS, sleep } from './subscriptions-settings';

/**
 * The subscribers of the subscriptions benchmark: graphql-ws clients written by hand (and bare `ws`
 * clients for the baseline), each following one order and recording when each event arrived.
 */

export interface Subscriber {
  orderId: string;
  received: { id: string; t: number }[];
  errors: string[];
  socket?: WebSocket;
}

export interface Sent {
  sub: number;
  seq: number;
  /** Committed (baseline: sent). */
  t: number;
  /** The producer started the transaction (baseline: the send). */
  t0: number;
}

export function onNext(sub: Subscriber, data: WebSocket.RawData, t: number, ack?: () => void): void {
  const m = JSON.parse(String(data));
  if (m.type === 'next') {
    if (m.payload?.errors?.length) sub.errors.push(JSON.stringify(m.payload.errors).slice(0, 300));
    else sub.received.push({ id: m.payload.data.orderEvents.id, t });
  } else if (m.type === 'connection_ack') ack?.();
  else if (m.type === 'ping') sub.socket!.send('{"type":"pong"}');
  else if (m.type === 'error' || m.type === 'complete')
    sub.errors.push(`${m.type}: ${JSON.stringify(m.payload ?? null).slice(0, 300)}`);
}

/** A graphql-ws client by hand: connection_init with the token, connection_ack, subscribe. */
export function connectGraphqlWs(url: string, token: string, sub: Subscriber): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    sub.socket = s;
    let acked = false;
    s.on('open', () =>
      s.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
    );
    s.on('message', (d) =>
      onNext(sub, d, now(), () => {
        acked = true;
        s.send(
          JSON.stringify({
            id: '1',
            type: 'subscribe',
            payload: { query: ORDER_EVENTS, variables: { o: sub.orderId } },
          }),
        );
        resolve();
      }),
    );
    s.on('close', (code, reason) => {
      if (!acked) reject(new Error(`closed before connection_ack: ${code} ${reason}`));
      else if (code !== 1000) sub.errors.push(`closed ${code} ${reason}`);
    });
    s.on('error', (e) => (acked ? sub.errors.push(String(e)) : reject(e)));
  });
}

export function connectBare(url: string, sub: Subscriber): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(`${url}/?order=${sub.orderId}`, { perMessageDeflate: false });
    sub.socket = s;
    s.on('open', () => resolve());
    s.on('message', (d) => onNext(sub, d, now()));
    s.on(
      'close',
      (code, reason) => code !== 1000 && code !== 1005 && sub.errors.push(`closed ${code} ${reason}`),
    );
    s.on('error', reject);
  });
}

/** Opens every subscriber, CONNECTING at a time; resolves with the seconds it took. */
export async function connectAll(
  subs: Subscriber[],
  connect: (s: Subscriber, i: number) => Promise<void>,
): Promise<number> {
  const t0 = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTING }, async () => {
      while (next < subs.length) {
        const i = next++;
        await connect(subs[i], i);
      }
    }),
  );
  return (now() - t0) / 1000;
}

export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export const received = (subs: Subscriber[]) => subs.reduce((n, s) => n + s.received.length, 0);
