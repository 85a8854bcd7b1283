/**
 * The mapping between the engine's data and a Sips call: what a call is
 * asked (`operationInput`, from the record and its engine data), what its
 * result leaves in the engine data (`absorbResult`) and on the timeline
 * (`callTimeline`).
 */
import type { Operation } from '../../machines/contract.ts';
import { evidenceFields } from '../payments/review.ts';
import type { PaymentRecord, TimelineEntry } from '../payments/store.ts';
import { maskCardData } from '../sips/mask.ts';
import type { SipsResult } from '../sips/result.ts';
import { acceptedDetails, answerFacts, type OperationInput } from '../sips/translate.ts';
import { readEngineData, type EngineContext } from './context.ts';
import type { EngineData } from './engine-data.ts';

/** Everything the call of `operation` needs, from the payment and its engine data. */
export function operationInput(
  engine: EngineContext,
  record: PaymentRecord,
  operation: Operation,
  amount: number | undefined,
): OperationInput {
  const { publicUrl, vault } = engine.deps;
  const data = readEngineData(engine, record);
  const input: OperationInput = {
    kind: record.kind,
    operation,
    transactionReference: record.transactionReference,
    amount: amount ?? record.amount,
    currency: record.currency,
    captureMode: record.captureMode,
    captureDay: data.request.captureDay,
    merchant: record.merchant,
  };
  if (publicUrl) {
    input.merchantReturnUrl = `${publicUrl}/v1/payments/${record.id}/authentication/return`;
  } else if (data.request.returnUrl) {
    input.merchantReturnUrl = data.request.returnUrl;
  }
  if (data.request.paymentMeanBrand) input.paymentMeanBrand = data.request.paymentMeanBrand;
  if (data.request.wallet) input.wallet = data.request.wallet;
  if (data.request.fromTransactionReference) {
    input.fromTransactionReference = data.request.fromTransactionReference;
  }
  const pattern =
    data.request.paymentPattern ?? (record.kind === 'duplicate' ? 'RECURRING_N' : undefined);
  if (pattern) input.paymentPattern = pattern;
  if (data.request.initialSchemeTransactionIdentifier) {
    input.initialSchemeTransactionIdentifier = data.request.initialSchemeTransactionIdentifier;
  }
  if (data.request.instalmentData) input.instalmentData = data.request.instalmentData;
  if (record.card !== undefined && needsCard(operation)) {
    input.card = vault.open(record.id, record.card);
  }
  if (operation === 'complete_authentication' || operation === 'finalize_provider') {
    const returned = data.authenticationReturn ?? {};
    const redirectionData = returned.redirectionData ?? data.redirection?.redirectionData;
    const messageVersion = returned.messageVersion ?? data.redirection?.messageVersion;
    if (redirectionData && messageVersion) {
      input.authentication = {
        redirectionData,
        messageVersion,
        ...(returned.paRes ? { paRes: returned.paRes } : {}),
      };
    }
  }
  return input;
}

/** Only the authorisation and the enrolment send the card. */
function needsCard(operation: Operation): boolean {
  return operation === 'authorize' || operation === 'enroll';
}

/** The timeline entry of a call's result. */
export function callTimeline(
  engine: EngineContext,
  result: SipsResult,
  operation: Operation,
): TimelineEntry {
  const detail: Record<string, unknown> = {
    operation,
    service: result.call.service,
    outcome: result.kind,
    durationMs: result.call.durationMs,
  };
  if (result.kind !== 'unknown' && result.kind !== 'seal_mismatch') {
    detail.responseCode = result.responseCode;
    if (result.errorFieldName) detail.errorFieldName = result.errorFieldName;
  }
  if (result.kind === 'unknown') detail.reason = result.reason;
  return { at: engine.deps.clock.now(), kind: 'sips.call', detail };
}

/** Engine data updates a call's result brings (facts, redirection, evidence). */
export function absorbResult(result: SipsResult, operation: Operation): (data: EngineData) => void {
  return (data) => {
    if (result.kind === 'ok') {
      Object.assign(data.facts, answerFacts(result.response));
      const details = acceptedDetails(result.response);
      const response = result.response;
      // Kept even without a redirection: a card that is not enrolled still
      // completes with cardValidateAuthenticationAndOrder and this data.
      if (details.redirect || typeof response.redirectionData === 'string') {
        const messageVersion = details.redirect?.messageVersion ?? response.messageVersion;
        data.redirection = {
          ...(details.redirect ? { url: details.redirect.url } : {}),
          ...(typeof response.paReqMessage === 'string' ? { paReq: response.paReqMessage } : {}),
          ...(typeof response.redirectionData === 'string'
            ? { redirectionData: response.redirectionData }
            : {}),
          ...(typeof messageVersion === 'string' ? { messageVersion } : {}),
        };
      }
    } else if (result.kind === 'seal_mismatch') {
      // What the seal check found, never the seal it computed or the one received.
      data.evidence = {
        request: evidenceFields(result.call.request),
        response: evidenceFields(result.response),
        seal: {
          verified: false,
          reason: result.seal.reason,
          ...(result.seal.algorithm === undefined ? {} : { algorithm: result.seal.algorithm }),
        },
        note: `response to ${operation} (${result.call.service}) failed its seal check`,
      };
    } else if (
      result.kind === 'refused' ||
      result.kind === 'invalid' ||
      result.kind === 'pending' ||
      result.kind === 'retryable'
    ) {
      data.facts.lastResponseCode = result.responseCode;
      if (result.code.action === 'inquire') {
        data.evidence = {
          request: evidenceFields(result.call.request),
          response: evidenceFields(maskCardData(result.response)),
          note: `${result.call.service} answered ${result.responseCode}: ${result.code.meaning}`,
        };
      }
    }
    if (operation === 'complete_authentication' || operation === 'finalize_provider') {
      delete data.authenticationReturn;
    }
  };
}
