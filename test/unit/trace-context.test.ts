import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import pino from 'pino';
import { inJobSpan, TRACE_KEY, traceMixin, withTraceContext } from '../../src/shared/trace-context';

/** The trace context helpers with an in-memory exporter: log lines, job data and job spans. */

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => provider.register());
afterAll(() => provider.shutdown());

test('without an active span nothing is added (tracing off costs nothing)', () => {
  expect(traceMixin()).toEqual({});
  expect(withTraceContext({ a: 1 })).toEqual({ a: 1 });
});

test('log lines carry the active trace and span ids', async () => {
  const lines: string[] = [];
  const out = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  const log = pino({ mixin: traceMixin }, out);
  await trace.getTracer('t').startActiveSpan('request', async (span) => {
    log.info('inside');
    span.end();
  });
  log.info('outside');
  const [inside, outside] = lines.map((l) => JSON.parse(l));
  const ctx = exporter
    .getFinishedSpans()
    .find((s) => s.name === 'request')!
    .spanContext();
  expect(inside).toMatchObject({ msg: 'inside', trace_id: ctx.traceId, span_id: ctx.spanId });
  expect(outside.trace_id).toBeUndefined();
});

test("a job continues the trace of the request that enqueued it; a batch links the others' traces", async () => {
  exporter.reset();
  const tracer = trace.getTracer('t');
  const enqueue = (name: string) =>
    tracer.startActiveSpan(name, (span) => {
      const data = withTraceContext({ n: name });
      span.end();
      return data;
    });
  const a = enqueue('request a');
  const b = enqueue('request b');
  expect((a as Record<string, unknown>)[TRACE_KEY]).toEqual({
    traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
  });
  let inner: string | undefined;
  await inJobSpan('snapshot.write', [a, b], async () => {
    inner = trace.getActiveSpan()?.spanContext().traceId;
  });
  const spans = exporter.getFinishedSpans();
  const reqA = spans.find((s) => s.name === 'request a')!;
  const reqB = spans.find((s) => s.name === 'request b')!;
  const job = spans.find((s) => s.name === 'job snapshot.write')!;
  expect(job.spanContext().traceId).toBe(reqA.spanContext().traceId);
  expect(job.parentSpanContext?.spanId).toBe(reqA.spanContext().spanId);
  expect(job.links.map((l) => l.context.spanId)).toEqual([reqB.spanContext().spanId]);
  expect(inner).toBe(reqA.spanContext().traceId);
});
