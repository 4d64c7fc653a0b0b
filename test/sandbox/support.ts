import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { PaymentEvent } from '../../src/sandbox/types';

const ROOT = resolve(__dirname, '../..');
const MAIN = join(ROOT, 'dist/src/sandbox/main.js');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns something truthy; fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SandboxProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<ExitInfo>;
  /** Sends `signal`, waits for the exit (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo & { killed: boolean; ms: number }>;
}

const children = new Set<ChildProcess>();

function spawnSandbox(env: Record<string, string>) {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first`);
  // Only what a shell would pass plus `env`: jest's NODE_ENV=test must not leak in.
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[k]) base[k] = process.env[k]!;
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const out: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (s: string) => out.push(s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => out.push(s));
  const exited = new Promise<ExitInfo>((r) =>
    child.once('close', (code, signal) => {
      children.delete(child);
      r({ code, signal });
    }),
  );
  return { child, exited, output: () => out.join('') };
}

/** `node dist/src/sandbox/main.js` on a free port (SANDBOX_PORT=0: it announces its URL). */
export async function startSandboxProcess(
  env: Record<string, string>,
  readyTimeoutMs = 15_000,
): Promise<SandboxProcess> {
  const p = spawnSandbox({ SANDBOX_PORT: '0', ...env });
  let exitedEarly: ExitInfo | undefined;
  void p.exited.then((e) => (exitedEarly = e));
  const url = await waitFor(
    () => {
      if (exitedEarly) throw new Error(`sandbox exited (code ${exitedEarly.code}):\n${p.output()}`);
      return /sandbox payment provider on (\S+)/.exec(p.output())?.[1];
    },
    readyTimeoutMs,
    'the sandbox to listen',
  ).catch((e) => {
    p.child.kill('SIGKILL');
    throw e;
  });
  return {
    url,
    child: p.child,
    output: p.output,
    exited: p.exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000) {
      const started = Date.now();
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const first = await Promise.race([p.exited, timeout]);
      clearTimeout(timer);
      if (first !== 'timeout') return { ...first, killed: false, ms: Date.now() - started };
      p.child.kill('SIGKILL');
      return { ...(await p.exited), killed: true, ms: Date.now() - started };
    },
  };
}

/** Runs the sandbox until it exits on its own (a configuration error). */
export async function runSandboxToExit(env: Record<string, string>, timeoutMs = 10_000) {
  const p = spawnSandbox({ SANDBOX_PORT: '0', ...env });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const first = await Promise.race([p.exited, timeout]);
  clearTimeout(timer);
  if (first === 'timeout') {
    p.child.kill('SIGKILL');
    await p.exited;
    throw new Error(`sandbox still running after ${timeoutMs} ms:\n${p.output()}`);
  }
  return { ...first, output: p.output() };
}

// No sandbox outlives the test process.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface Delivery {
  path: string;
  /** The raw body, as signed. */
  raw: string;
  event: PaymentEvent;
  signature: string | undefined;
  attempt: number;
  at: number;
  /** What the receiver answered. */
  status: number;
}

/** A callback receiver on 127.0.0.1 that records every request and answers `respond(d)`. */
export interface Receiver {
  url: string;
  deliveries: Delivery[];
  respond: (d: Omit<Delivery, 'status'>) => number;
  forPayment(paymentId: string): Delivery[];
  /** Waits until `paymentId` has at least `n` deliveries; returns them. */
  waitForDeliveries(paymentId: string, n: number, timeoutMs?: number): Promise<Delivery[]>;
  close(): Promise<void>;
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startReceiver(): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const receiver: Receiver = {
    url: '',
    deliveries,
    respond: () => 200,
    forPayment: (id) => deliveries.filter((d) => d.event.paymentId === id),
    waitForDeliveries: (id, n, timeoutMs = 5_000) =>
      waitFor(
        () => (receiver.forPayment(id).length >= n ? receiver.forPayment(id) : undefined),
        timeoutMs,
        `${n} deliveries for ${id} (got ${receiver.forPayment(id).length})`,
      ),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    void readAll(req).then((raw) => {
      const base = {
        path: req.url ?? '/',
        raw,
        event: JSON.parse(raw) as PaymentEvent,
        signature: req.headers['x-signature'] as string | undefined,
        attempt: Number(req.headers['x-delivery-attempt']),
        at: Date.now(),
      };
      const status = receiver.respond(base);
      deliveries.push({ ...base, status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
