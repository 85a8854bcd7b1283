/**
 * One go-live probe of a merchant: a harmless sealed call
 * (getTransactionData on a reference that cannot exist), which a healthy
 * shop answers 25 "transaction unknown", sealed with its key. What came back
 * instead names the likely mistake in the configuration:
 *
 * | answer                                   | verdict                               |
 * |------------------------------------------|---------------------------------------|
 * | 25, seal verifies                        | OK                                    |
 * | 25, seal missing or wrong                | answer seal does not verify           |
 * | 03                                       | unknown merchantId                    |
 * | 34, seal verifies under one of our keys  | wrong key version                     |
 * | 34, unsealed or sealed with another key  | wrong secret key (or key version)     |
 * | no HTTP answer (refused, reset, timeout) | unreachable: <reason>                 |
 * | HTTP answer that is no Sips answer       | no Sips answer: HTTP <status>         |
 * | any other code                           | unexpected answer <code> (<meaning>)  |
 *
 * Sips checks the merchantId (03) before the key version and the seal (34),
 * and both before the function itself (25): a 25 proves the merchantId, key
 * version and key are right. A 34 to a key version Sips does not know comes
 * sealed with the shop's current key: when that is our key, only the version
 * is wrong. Nothing here prints or returns a secret.
 */
import { randomBytes } from 'node:crypto';
import type { MerchantSettings } from '../config/merchants.ts';
import type { Clock } from '../platform/clock.ts';
import type { HttpTransport } from '../platform/http.ts';
import type { Logger } from '../platform/logger.ts';
import { createSipsClient } from '../sips/client.ts';
import { describeResponseCode } from '../sips/codes.ts';
import { outcomeCode } from '../sips/exchange.ts';
import type { SipsResult } from '../sips/result.ts';
import { answerSealAlgorithms, verifyAnswerSealUnder, type SealAlgorithm } from '../sips/seal.ts';

export const VERDICT_OK = 'OK';

/** What the answer's seal showed. */
export interface SealFinding {
  /** True: verified under one of our keys; false: missing or wrong; null: no answer to check. */
  verifies: boolean | null;
  /** The algorithm it verified under. */
  algorithm?: SealAlgorithm;
  /** Set when it verified under an older accepted key rather than the active one. */
  keyVersion?: string;
  /** The answer carried no seal at all. */
  missing?: boolean;
}

export interface MerchantCheck {
  /** Our id for the shop. */
  id: string;
  merchantId: string;
  environment: string;
  /** The Office Server base URL, any user or password in it removed. */
  platform: string;
  /** The active key's version (never the key). */
  keyVersion: string;
  /** An HTTP answer came back. */
  reachable: boolean;
  /** null: the answer cannot tell (or there was none). */
  merchantKnown: boolean | null;
  keyRight: boolean | null;
  seal: SealFinding;
  /** The code of the call's own result, when Sips answered one. */
  responseCode?: string;
  ok: boolean;
  verdict: string;
  /** What came back when it was not a Sips answer (the start of the body), for --json. */
  detail?: string;
  durationMs: number;
}

export interface ProbeDeps {
  http: HttpTransport;
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
  /** Used when the merchant names no interfaceVersion. */
  interfaceVersion?: string | undefined;
}

const REFERENCE_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `chk` and 24 random letters or digits: a transactionReference no shop has used. */
export function probeReference(): string {
  const bytes = randomBytes(24);
  let text = 'chk';
  for (const byte of bytes) text += REFERENCE_ALPHABET[byte % REFERENCE_ALPHABET.length];
  return text;
}

/** The base URL as shown: credentials in it are dropped. */
export function displayUrl(baseUrl: string): string {
  try {
    const url = new URL(baseUrl);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return baseUrl;
  }
}

/** Codes Sips answers only after the merchantId, key version and seal were accepted. */
const PAST_THE_ENVELOPE = new Set(['00', '24', '25', '40']);

type Finding = Pick<
  MerchantCheck,
  'reachable' | 'merchantKnown' | 'keyRight' | 'seal' | 'responseCode' | 'ok' | 'verdict' | 'detail'
>;

function unreachable(reason: string): Finding {
  return {
    reachable: false,
    merchantKnown: null,
    keyRight: null,
    seal: { verifies: null },
    ok: false,
    verdict: `unreachable: ${reason}`,
  };
}

/** A seal that did not verify under the active key, tried under the older accepted keys. */
function olderKeySeal(settings: MerchantSettings, response: Record<string, unknown>): SealFinding {
  const algorithms = answerSealAlgorithms('HMAC-SHA-256', response.sealAlgorithm);
  for (const key of settings.acceptedKeys.slice(1)) {
    const check = verifyAnswerSealUnder(response, key.secretKey, algorithms);
    if (check.valid) return { verifies: true, algorithm: check.algorithm, keyVersion: key.version };
  }
  return { verifies: false };
}

function sealOf(result: SipsResult, settings: MerchantSettings): SealFinding {
  if (result.kind === 'unknown') return { verifies: null };
  if (result.kind !== 'seal_mismatch') {
    return result.sealAlgorithm === undefined
      ? { verifies: false, missing: true }
      : { verifies: true, algorithm: result.sealAlgorithm };
  }
  if (result.seal.reason === 'missing') return { verifies: false, missing: true };
  return olderKeySeal(settings, result.response);
}

function verdictOf(code: string, seal: SealFinding): Pick<Finding, 'ok' | 'verdict'> {
  switch (code) {
    case '25':
      return seal.verifies
        ? { ok: true, verdict: VERDICT_OK }
        : { ok: false, verdict: 'answer seal does not verify' };
    case '03':
      return { ok: false, verdict: 'unknown merchantId' };
    case '34':
      return {
        ok: false,
        verdict: seal.verifies ? 'wrong key version' : 'wrong secret key (or key version)',
      };
    default:
      return {
        ok: false,
        verdict: `unexpected answer ${code} (${describeResponseCode(code).meaning})`,
      };
  }
}

/** Reads a probe's result into the columns of the check. */
export function classify(
  result: SipsResult,
  settings: MerchantSettings,
  timeoutMs?: number,
): Finding {
  if (result.kind === 'unknown') {
    if (result.reason === 'timeout' && timeoutMs !== undefined) {
      return unreachable(`no answer within ${timeoutMs} ms`);
    }
    if (result.reason === 'timeout' || result.reason === 'connect' || result.reason === 'reset') {
      return unreachable(result.detail);
    }
    // An HTTP answer, but not Sips's: a wrong platform URL, a proxy, an outage.
    const what =
      result.reason === 'non_json'
        ? `HTTP ${result.httpStatus ?? '?'}, not a JSON Sips answer`
        : `HTTP ${result.httpStatus ?? '?'}`;
    return {
      reachable: true,
      merchantKnown: null,
      keyRight: null,
      seal: { verifies: null },
      ok: false,
      verdict: `no Sips answer: ${what}`,
      detail: result.detail,
    };
  }
  const seal = sealOf(result, settings);
  const code =
    result.kind === 'seal_mismatch'
      ? outcomeCode('getTransactionData', result.response)
      : result.responseCode;
  if (code === undefined) {
    return {
      reachable: true,
      merchantKnown: null,
      keyRight: null,
      seal,
      ok: false,
      verdict: 'answer seal does not verify (and the answer has no response code)',
    };
  }
  const known = code === '03' ? false : code === '34' || PAST_THE_ENVELOPE.has(code) ? true : null;
  const keyRight = code === '34' ? false : PAST_THE_ENVELOPE.has(code) ? true : null;
  return {
    reachable: true,
    merchantKnown: known,
    keyRight,
    seal,
    responseCode: code,
    ...verdictOf(code, seal),
  };
}

/** Probes one merchant; never throws. */
export async function probeMerchant(
  settings: MerchantSettings,
  reference: string,
  deps: ProbeDeps,
): Promise<MerchantCheck> {
  const started = deps.clock.now();
  const interfaceVersion = settings.interfaceVersion ?? deps.interfaceVersion;
  const client = createSipsClient({
    baseUrl: settings.baseUrl,
    merchantId: settings.merchantId,
    secretKey: settings.activeKey.secretKey,
    keyVersion: settings.activeKey.version,
    http: deps.http,
    clock: deps.clock,
    logger: deps.logger,
    timeoutMs: deps.timeoutMs,
    // The check reads the seal itself: an unsealed answer is a finding, never accepted.
    allowUnsealedResponses: false,
    ...(interfaceVersion ? { interfaceVersion } : {}),
  });
  let finding: Finding;
  try {
    finding = classify(
      await client.getTransactionData({ transactionReference: reference }),
      settings,
      deps.timeoutMs,
    );
  } catch (error) {
    // SipsRequestError: our own request is malformed, nothing was sent.
    finding = {
      ...unreachable(''),
      verdict: `request not sent: ${(error as Error).message}`,
    };
  }
  return {
    id: settings.id,
    merchantId: settings.merchantId,
    environment: settings.environment,
    platform: displayUrl(settings.baseUrl),
    keyVersion: settings.activeKey.version,
    ...finding,
    durationMs: deps.clock.now() - started,
  };
}
