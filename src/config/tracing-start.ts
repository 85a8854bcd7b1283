/**
 * Imported first by the entry points: starts OpenTelemetry tracing when the
 * OTEL_* variables ask for it (config.ts `tracingRequested`), before the
 * modules that load node:http, undici and BullMQ are evaluated.
 */
import { startTracing } from '../platform/tracing.ts';
import { tracingRequested } from './config.ts';

const requested = tracingRequested();
if (requested.enabled) {
  startTracing(requested.serviceName ? { serviceName: requested.serviceName } : {});
}
