import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

/**
 * The logger of the HTTP request being served, for code that runs inside it but is built once per
 * server (Apollo's formatError): its lines then carry the request id like the request's own.
 */
export const requestLogStorage = new AsyncLocalStorage<Logger>();
