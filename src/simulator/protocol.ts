/**
 * The Office Server envelope: who is calling (merchantId → 03), is it really
 * them (keyVersion and seal → 34), do they speak this interface
 * (interfaceVersion → 30) and may they use this function (→ 40); and the
 * shape of failure answers, which depends on the function (wallet functions
 * answer walletResponseCode, getTransactionData answers
 * getTransDataResponseCode, initialisations also answer redirectionStatusCode;
 * readings.ts switches what the reference leaves open).
 */
import { isInterfaceVersionOf } from '../sips/interface-version.ts';
import { computeSeal, isSealAlgorithm, verifySeal } from '../sips/seal.ts';
import type { SecretKey } from '../sips/secret-key.ts';
import { domainOf, type SipsServiceName } from '../sips/services.ts';
import { formatDateTime } from './clock.ts';
import type { Merchant, MerchantRegistry } from './merchants.ts';
import { DEFAULT_READINGS, type AnswerSealAlgorithm } from './readings.ts';

export type SipsRequest = Record<string, unknown>;
export type SipsAnswer = Record<string, unknown>;

/** Functions whose answer carries redirectionStatusCode next to responseCode. */
const INITIALISATIONS: ReadonlySet<SipsServiceName> = new Set([
  'cardCheckEnrollment',
  'walletCheckEnrollment',
  'paymentProviderInitialize',
  'walletIssuerWalletInitialize',
]);

/** A business or protocol refusal raised anywhere while handling a call. */
export class SipsFailure extends Error {
  constructor(
    readonly responseCode: string,
    readonly fields: { errorFieldName?: string; newStatus?: string } = {},
    message = `responseCode ${responseCode}`,
  ) {
    super(message);
    this.name = 'SipsFailure';
  }
}

export type EnvelopeCheck =
  | { ok: true; merchant: Merchant; key: SecretKey }
  | {
      ok: false;
      failure: SipsFailure;
      /** The shop when known, so the refusal can still be sealed. */
      merchant?: Merchant;
      key?: SecretKey;
    };

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

export function currentKey(merchant: Merchant): SecretKey {
  return merchant.keys.get(merchant.currentKeyVersion) as SecretKey;
}

export function checkEnvelope(
  service: SipsServiceName,
  body: SipsRequest,
  merchants: MerchantRegistry,
): EnvelopeCheck {
  const fail = (code: string, errorFieldName?: string, merchant?: Merchant): EnvelopeCheck => ({
    ok: false,
    failure: new SipsFailure(code, errorFieldName ? { errorFieldName } : {}),
    ...(merchant ? { merchant, key: currentKey(merchant) } : {}),
  });

  if (!present(body.merchantId)) return fail('12', 'merchantId');
  const merchantId = text(body.merchantId);
  if (merchantId === undefined || !/^\d{1,15}$/.test(merchantId)) {
    return fail('30', 'merchantId');
  }
  const merchant = merchants.get(merchantId);
  if (!merchant) return fail('03');

  if (!present(body.keyVersion)) return fail('12', 'keyVersion', merchant);
  const keyVersion = text(body.keyVersion);
  const key = keyVersion === undefined ? undefined : merchant.keys.get(keyVersion);
  // An unknown key version is a seal that cannot be checked: fraud suspicion.
  if (!key) return fail('34', undefined, merchant);

  if (body.sealAlgorithm !== undefined && !isSealAlgorithm(body.sealAlgorithm)) {
    return fail('30', 'sealAlgorithm', merchant);
  }
  if (!present(body.seal)) return fail('12', 'seal', merchant);
  const refuse = (failure: SipsFailure): EnvelopeCheck => ({ ok: false, failure, merchant, key });
  if (!verifySeal(body, key).valid) return refuse(new SipsFailure('34'));

  if (!present(body.interfaceVersion)) {
    return refuse(new SipsFailure('12', { errorFieldName: 'interfaceVersion' }));
  }
  // The client's request schema uses the same definition: what one refuses, so does the other.
  if (!isInterfaceVersionOf(service, text(body.interfaceVersion) ?? '')) {
    return refuse(new SipsFailure('30', { errorFieldName: 'interfaceVersion' }));
  }
  if (!merchant.enabled.has(service)) return refuse(new SipsFailure('40'));
  return { ok: true, merchant, key };
}

/** The values redirectionStatusCode takes (reference 6, from the Worldline SDKs). */
const REDIRECTION_STATUS_CODES = new Set(['00', '03', '12', '30', '34', '94', '99']);

/** The answer to a refused call, in the function's own vocabulary. */
export function failureAnswer(
  service: SipsServiceName,
  failure: SipsFailure,
  now: number,
): SipsAnswer {
  const answer: SipsAnswer = {};
  const code = failure.responseCode;
  if (domainOf(service) === 'wallet') {
    answer.walletResponseCode = code;
    answer.walletActionDateTime = formatDateTime(now);
  } else if (service === 'getTransactionData') {
    // The call failed, so there is no original transaction code to report either.
    answer.getTransDataResponseCode = code;
    answer.responseCode = code;
  } else {
    answer.responseCode = code;
    if (INITIALISATIONS.has(service) && REDIRECTION_STATUS_CODES.has(code)) {
      answer.redirectionStatusCode = code;
    }
  }
  if (failure.fields.errorFieldName) answer.errorFieldName = failure.fields.errorFieldName;
  if (failure.fields.newStatus) answer.newStatus = failure.fields.newStatus;
  return answer;
}

/**
 * Drops absent fields (they would not be sent) and seals the rest. By
 * default with the algorithm the request named (the answer is sealed "with
 * the same algorithm"; HMAC-SHA-256 when it named none or one that is not
 * known); with HMAC-SHA-256 whatever the request named when the simulator
 * plays that reading (readings.ts).
 */
export function sealAnswer(
  answer: SipsAnswer,
  key: SecretKey | undefined,
  request?: Readonly<Record<string, unknown>>,
  sealing: AnswerSealAlgorithm = DEFAULT_READINGS.answerSealAlgorithm,
): SipsAnswer {
  const clean: SipsAnswer = {};
  for (const [name, value] of Object.entries(answer)) {
    if (value !== undefined && value !== null) clean[name] = value;
  }
  const named = request?.sealAlgorithm;
  const algorithm = sealing === 'request' ? (isSealAlgorithm(named) ? named : undefined) : sealing;
  if (key) clean.seal = computeSeal(clean, key, algorithm);
  return clean;
}

/**
 * The merchantId of a body that is not valid JSON, when it can still be read,
 * so that even the format error can be sealed with the shop's key.
 */
export function merchantIdFromText(raw: string): string | undefined {
  return /"merchantId"\s*:\s*"?(\d{1,15})"?/.exec(raw)?.[1];
}
