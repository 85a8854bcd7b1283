/** Tracing is off unless the standard OTEL_* variables ask for it; request ids must be sane tokens. */
import { describe, expect, it } from 'vitest';
import { tracingRequested } from '../../src/config/config.ts';
import { isSaneRequestId } from '../../src/platform/log-context.ts';

describe('tracingRequested', () => {
  it('is off by default and with the exporter none or the SDK disabled', () => {
    expect(tracingRequested({}).enabled).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
    expect(
      tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }).enabled,
    ).toBe(false);
    expect(
      tracingRequested({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_TRACES_EXPORTER: 'none',
      }).enabled,
    ).toBe(false);
  });

  it('is on with an exporter or an OTLP endpoint', () => {
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' }).enabled).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({
      enabled: true,
      serviceName: 'sogenactif-orchestrator',
    });
    expect(
      tracingRequested({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
        OTEL_SERVICE_NAME: 'payments-eu',
      }),
    ).toEqual({ enabled: true });
  });
});

describe('isSaneRequestId', () => {
  it('takes short tokens and refuses anything else', () => {
    expect(isSaneRequestId('order-42.req_1:a')).toBe(true);
    expect(isSaneRequestId('a'.repeat(128))).toBe(true);
    expect(isSaneRequestId('a'.repeat(129))).toBe(false);
    expect(isSaneRequestId('')).toBe(false);
    expect(isSaneRequestId('two words')).toBe(false);
    expect(isSaneRequestId('line\nbreak')).toBe(false);
    expect(isSaneRequestId(['a', 'b'])).toBe(false);
    expect(isSaneRequestId(undefined)).toBe(false);
  });
});
