/**
 * OpenTelemetry tracing, started before any other module loads (main.ts imports this first), so
 * the instrumentations can wrap http, undici (fetch: the payment provider's client), graphql, pg
 * and ioredis as they are required. Off unless an OTLP endpoint is configured (loadTracingConfig);
 * then spans are batched to it over OTLP/HTTP and the W3C traceparent travels with requests.
 */
import { loadTracingConfig } from './config';

export interface Tracing {
  shutdown(): Promise<void>;
}

export function startTracing(config = loadTracingConfig()): Tracing | null {
  if (!config.enabled) return null;
  // Required only when on: with tracing off none of the SDK is loaded.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } = require('@opentelemetry/instrumentation-undici');
  const { GraphQLInstrumentation } = require('@opentelemetry/instrumentation-graphql');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation({
        // Scrapes and probes are not worth a trace each.
        ignoreIncomingRequestHook: (req: { url?: string }) =>
          /^\/(metrics|healthz|readyz)\b/.test(req.url ?? ''),
      }),
      new UndiciInstrumentation(),
      // Trivial field resolvers would make a span per field of every list.
      new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true, mergeItems: true }),
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  return { shutdown: () => provider.shutdown() };
}

/** The process's tracing, started when this module is first imported. */
export const tracing = startTracing();
