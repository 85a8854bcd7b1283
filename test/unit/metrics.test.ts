import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/api/metrics.ts';
import { describeResponseCode } from '../../src/sips/codes.ts';
import type { SipsResult } from '../../src/sips/result.ts';

const call = {
  service: 'cardOrder',
  url: 'https://sips.example/rs-services/v2/paymentCard/cardOrder',
  request: { merchantId: '211000021310001' },
  durationMs: 120,
};

describe('sips_call_duration_seconds', () => {
  it('is labelled by service and responseCode', async () => {
    const metrics = createMetrics();
    const accepted: SipsResult = {
      kind: 'ok',
      responseCode: '00',
      code: describeResponseCode('00'),
      response: { responseCode: '00' },
      call,
    };
    const lost: SipsResult = { kind: 'unknown', reason: 'timeout', detail: 'timed out', call };
    metrics.onCall(accepted);
    metrics.onCall(lost);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'sips_call_duration_seconds_count{service="cardOrder",response_code="00"} 1',
    );
    expect(text).toContain(
      'sips_call_duration_seconds_count{service="cardOrder",response_code=""} 1',
    );
  });
});
