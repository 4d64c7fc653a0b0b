import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort } from '../db/embedded';

export interface SandboxProcess {
  url: string;
  stop(): Promise<void>;
}

/** The project root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/**
 * Starts the sandbox card provider as its own process (the embedded default and tests use it like
 * a real provider: over HTTP, with signed callbacks). Resolves once it listens.
 */
export async function startSandboxProcess(env: {
  apiKey: string;
  webhookSecret: string;
  log: (line: string) => void;
  /** More SANDBOX_* settings (tests: faster callback retries). */
  extra?: Record<string, string>;
}): Promise<SandboxProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(projectRoot(), 'dist/src/sandbox/main.js')], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'development',
      SANDBOX_PORT: String(port),
      SANDBOX_API_KEY: env.apiKey,
      SANDBOX_WEBHOOK_SECRET: env.webhookSecret,
      ...env.extra,
    },
    // The IPC channel closes when this process dies, however it dies: the sandbox then stops too.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.channel?.unref();
  child.stderr!.on('data', (d) => env.log(String(d).trim()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the sandbox payment provider did not start')), 15_000);
    child.once('exit', (code) => reject(new Error(`the sandbox payment provider exited with ${code}`)));
    child.stdout!.on('data', (d) => {
      const m = /sandbox payment provider on (\S+)/.exec(String(d));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
