import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client as a storefront opens it: the token in connection_init, no reconnects. */
export function wsClient(
  httpUrl: string,
  token?: string,
  onClose?: (code: number, reason: string) => void,
): Client {
  return createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (e) => onClose?.((e as { code: number }).code, String((e as { reason?: string }).reason ?? '')),
    },
  });
}

export interface Subscription<T> {
  events: T[];
  errors: unknown[];
  /** Resolves when the subscription has ended (completed or failed). */
  ended: Promise<void>;
  /** Waits until at least `n` events have arrived. */
  waitFor(n: number, ms?: number): Promise<T[]>;
  stop(): void;
}

/** Subscribes and collects what arrives, in order. */
export function subscribe<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  pick: (data: any) => T = (d) => d,
): Subscription<T> {
  const events: T[] = [];
  const errors: unknown[] = [];
  let ended!: () => void;
  const endedP = new Promise<void>((r) => (ended = r));
  const waiters: (() => void)[] = [];
  const stop = client.subscribe(
    { query, variables },
    {
      next: (v) => {
        if (v.errors) errors.push(...v.errors);
        if (v.data) events.push(pick(v.data));
        waiters.splice(0).forEach((w) => w());
      },
      error: (e) => {
        errors.push(e);
        ended();
        waiters.splice(0).forEach((w) => w());
      },
      complete: () => {
        ended();
        waiters.splice(0).forEach((w) => w());
      },
    },
  );
  return {
    events,
    errors,
    ended: endedP,
    async waitFor(n, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (events.length < n) {
        if (errors.length) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
        if (Date.now() > deadline)
          throw new Error(`expected ${n} events, got ${events.length}: ${JSON.stringify(events)}`);
        await Promise.race([
          new Promise<void>((r) => waiters.push(r)),
          new Promise((r) => setTimeout(r, 200)),
        ]);
      }
      return events;
    },
    stop,
  };
}
