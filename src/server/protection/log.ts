import { traceMixin } from '../../shared/trace-context';
import pino, { type DestinationStream, type Logger } from 'pino';

const SQL_START = /^\s*(insert|update|delete|select|with|merge|copy|alter|create|drop)\b/i;
/** Properties of driver errors that carry SQL text, parameter values or row contents. */
const SENSITIVE = [
  'sql',
  'query',
  'parameters',
  'params',
  'bindings',
  'detail',
  'where',
  'internalQuery',
  'sqlMessage',
];

/**
 * Driver errors (MikroORM / knex / pg) put the statement with its values in the message
 * ("insert into app_user ... values ('x', '$argon2id$...') - invalid byte sequence") and the row in
 * `detail`. Logged, they become a leak of password hashes and personal data. This keeps the error's
 * kind, SQLSTATE and PostgreSQL's own message, and drops everything else.
 */
export function sanitizeMessage(message: string): string {
  if (!SQL_START.test(message)) return message;
  const cut = message.lastIndexOf(' - ');
  return cut >= 0 ? `[SQL statement redacted] - ${message.slice(cut + 3)}` : '[SQL statement redacted]';
}

export function safeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const base = pino.stdSerializers.err(err) as Record<string, unknown>;
  for (const key of SENSITIVE) delete base[key];
  const message = sanitizeMessage(err.message);
  base.message = message;
  if (typeof base.stack === 'string') {
    const lines = base.stack.split('\n');
    const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
    base.stack = [`${err.name}: ${message}`, ...(firstFrame >= 0 ? lines.slice(firstFrame) : [])].join('\n');
  }
  const cause = (err as { cause?: unknown }).cause;
  if (cause) base.cause = safeError(cause);
  return base;
}

/** The process's logger: errors logged under `err` or `error` go through safeError. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  // Every line also carries the trace and span ids of the work it is about (when tracing is on).
  const options = { level, serializers: { err: safeError, error: safeError }, mixin: traceMixin };
  return destination ? pino(options, destination) : pino(options);
}
