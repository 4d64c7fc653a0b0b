import { context, propagation, trace, type Context, type Link } from '@opentelemetry/api';

/**
 * Trace context helpers over the OpenTelemetry API. Without a configured SDK (tracing off, the
 * default) every call here is a cheap no-op: no span is ever active.
 */

/** pino mixin: the active span's ids in every log line (none when tracing is off). */
export function traceMixin(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const c = span.spanContext();
  return trace.isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
}

/** Job data carries the trace of the request that enqueued it under this key. */
export const TRACE_KEY = '_trace';

/** `data` with the active trace context (W3C traceparent) added, or as it is when none is active. */
export function withTraceContext<T extends object>(data: T): T {
  if (!trace.getActiveSpan()) return data;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? { ...data, [TRACE_KEY]: carrier } : data;
}

/** The context a job's data carries (the root context when it carries none). */
export function traceContextOf(data: object): Context {
  const carrier = (data as Record<string, unknown>)[TRACE_KEY];
  if (!carrier || typeof carrier !== 'object') return context.active();
  return propagation.extract(context.active(), carrier as Record<string, string>);
}

/**
 * Runs a batch of jobs in a CONSUMER span: a child of the first job's trace (one job continues
 * its request's trace), linked to the others.
 */
export async function inJobSpan<T>(queue: string, batch: object[], fn: () => Promise<T>): Promise<T> {
  const tracer = trace.getTracer('commerce-jobs');
  const parents = batch.map(traceContextOf);
  const links: Link[] = parents
    .slice(1)
    .map((c) => trace.getSpanContext(c))
    .filter((s): s is NonNullable<typeof s> => !!s)
    .map((s) => ({ context: s }));
  return tracer.startActiveSpan(
    `job ${queue}`,
    {
      kind: 4 /* SpanKind.CONSUMER */,
      links,
      attributes: {
        'messaging.system': 'pg-boss',
        'messaging.destination.name': queue,
        'messaging.batch.message_count': batch.length,
      },
    },
    parents[0] ?? context.active(),
    async (span) => {
      try {
        return await fn();
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: 2 /* ERROR */ });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
