/**
 * OpenTelemetry tracing, off unless asked for: `startTracing` starts the
 * NodeSDK (spans of incoming HTTP requests, of outgoing undici calls, of
 * BullMQ jobs and of the Sips calls) and registers it with
 * `@opentelemetry/api`. Without it every span made through the api is a no-op
 * and BullMQ gets no telemetry, so tracing costs nothing by default.
 *
 * The SDK and the instrumentations are loaded only when tracing starts, and
 * must start before the modules that load node:http, undici and BullMQ (the
 * entry points import src/config/tracing-start.ts first).
 */
import { createRequire } from 'node:module';
import type * as HttpInstrumentationModule from '@opentelemetry/instrumentation-http';
import type * as UndiciInstrumentationModule from '@opentelemetry/instrumentation-undici';
import type * as Sdk from '@opentelemetry/sdk-node';
import type * as TraceBase from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BullMQOtel } from 'bullmq-otel';

type SdkModule = typeof Sdk;
type TraceBaseModule = typeof TraceBase;
type HttpModule = typeof HttpInstrumentationModule;
type UndiciModule = typeof UndiciInstrumentationModule;

/** The name of the tracer of our own spans (Sips calls, HTTP requests). */
export const TRACER_NAME = 'sogenactif-orchestrator';

export interface TracingOptions {
  /** `service.name` when OTEL_SERVICE_NAME does not give one. */
  serviceName?: string;
  /**
   * Spans go here, one by one, instead of the exporters OTEL_TRACES_EXPORTER
   * names (tests: an in-memory exporter).
   */
  exporter?: SpanExporter;
}

export interface Tracing {
  /** Sends the spans still buffered, then stops the SDK. */
  shutdown(): Promise<void>;
}

/** Incoming requests not worth a trace: probes and scrapes. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

let started: { sdk: InstanceType<SdkModule['NodeSDK']>; telemetry: BullMQOtel } | undefined;

/** Starts tracing once per process; later calls return the running one. */
export function startTracing(options: TracingOptions = {}): Tracing {
  if (!started) {
    const require = createRequire(import.meta.url);
    const { NodeSDK } = require('@opentelemetry/sdk-node') as SdkModule;
    const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as HttpModule;
    const { UndiciInstrumentation } =
      require('@opentelemetry/instrumentation-undici') as UndiciModule;
    const exporter = options.exporter;
    const spanProcessors = exporter
      ? [
          new (require('@opentelemetry/sdk-trace-base') as TraceBaseModule).SimpleSpanProcessor(
            exporter,
          ),
        ]
      : undefined;
    const sdk = new NodeSDK({
      ...(options.serviceName ? { serviceName: options.serviceName } : {}),
      ...(spanProcessors ? { spanProcessors } : {}),
      // Metrics are Prometheus's (/metrics) and logs pino's: traces only.
      metricReaders: [],
      logRecordProcessors: [],
      instrumentations: [
        new HttpInstrumentation({
          ignoreIncomingRequestHook: (request) =>
            UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
        }),
        new UndiciInstrumentation(),
      ],
    });
    sdk.start();
    started = { sdk, telemetry: new BullMQOtel({ tracerName: 'bullmq' }) };
  }
  const running = started;
  return {
    async shutdown() {
      if (started !== running) return;
      started = undefined;
      await running.sdk.shutdown();
    },
  };
}

/** Whether tracing runs in this process. */
export function tracingActive(): boolean {
  return started !== undefined;
}

/**
 * The `telemetry` option of BullMQ's Queue and Worker while tracing runs:
 * a job's span is then a child of the span that added it (the API request).
 */
export function queueTelemetry(): { telemetry: BullMQOtel } | Record<string, never> {
  return started ? { telemetry: started.telemetry } : {};
}
