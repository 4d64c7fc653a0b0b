import { SandboxConfigError, sandboxConfigFromEnv } from './config';
import { startSandbox } from './server';

/** `npm run sandbox`: the sandbox card provider as a process of its own (see config.ts for the environment). */
async function main() {
  let config;
  try {
    config = sandboxConfigFromEnv(process.env);
  } catch (e) {
    if (e instanceof SandboxConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const sandbox = await startSandbox({
    ...config,
    onWarning: (message) => console.error(`[sandbox] ${message}`),
  });
  console.log(`sandbox payment provider on ${sandbox.url}`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 5_000);
    force.unref();
    await sandbox.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  // Started by the server (an IPC channel): it ends with the server, also when that is killed.
  if (process.send) process.on('disconnect', () => void shutdown());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
