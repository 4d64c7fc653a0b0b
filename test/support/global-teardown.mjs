export default async function globalTeardown() {
  globalThis.__REDIS__?.kill('SIGTERM');
  await globalThis.__EMBEDDED_PG__?.stop();
}
