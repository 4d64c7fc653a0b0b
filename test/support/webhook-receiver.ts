import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it. */
export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
  /** What the receiver answered (0 when it never answered). */
  answered: number;
}

/** How the receiver answers a request to a path (the n-th one to that path, from 1). */
export type Behaviour = (n: number) => { status: number; delayMs?: number } | 'hang';

/**
 * A real HTTP server that plays webhook receivers on 127.0.0.1: each path is one receiver with
 * its own behaviour (fail n times, answer slowly, never answer). It records every request.
 */
export class WebhookReceiver {
  readonly requests: Received[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly counts = new Map<string, number>();
  private readonly inFlightByPath = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  private server!: http.Server;
  port = 0;

  static async start(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver();
    r.server = http.createServer((req, res) => r.handle(req, res));
    await new Promise<void>((ok) => r.server.listen(0, '127.0.0.1', ok));
    r.port = (r.server.address() as AddressInfo).port;
    return r;
  }

  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  on(path: string, b: Behaviour): this {
    this.behaviours.set(path, b);
    return this;
  }

  to(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const n = (this.counts.get(path) ?? 0) + 1;
      this.counts.set(path, n);
      const rec: Received = {
        path,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        answered: 0,
      };
      this.requests.push(rec);
      const inFlight = (this.inFlightByPath.get(path) ?? 0) + 1;
      this.inFlightByPath.set(path, inFlight);
      this.maxInFlight.set(path, Math.max(this.maxInFlight.get(path) ?? 0, inFlight));
      const done = () => this.inFlightByPath.set(path, (this.inFlightByPath.get(path) ?? 1) - 1);
      const b = (this.behaviours.get(path) ?? ((): ReturnType<Behaviour> => ({ status: 200 })))(n);
      if (b === 'hang') {
        res.on('close', done);
        return;
      }
      setTimeout(() => {
        rec.answered = b.status;
        res.writeHead(b.status, { 'content-type': 'text/plain' }).end(b.status < 300 ? 'ok' : 'no');
        done();
      }, b.delayMs ?? 0);
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
  }
}

/** Polls until `check` returns a truthy value (or throws after `ms`). */
export async function until<T>(
  check: () => T | Promise<T>,
  ms = 15_000,
  what = 'condition',
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
