/**
 * What every part of the engine shares: its dependencies, the inquiry
 * schedule in force, and the engine data already parsed per record object.
 * The engine's functions take it as their first argument.
 */
import { DEFAULT_MERCHANT_ID } from '../payments/store-types.ts';
import type { PaymentRecord } from '../payments/store.ts';
import type { SipsClient } from '../sips/client.ts';
import type { EngineDeps } from './contract.ts';
import { emptyEngineData, type EngineData } from './engine-data.ts';
import type { FollowUp } from './jobs.ts';

export interface EngineContext {
  readonly deps: EngineDeps;
  /** Delays between inquiries after an unknown outcome; never empty. */
  readonly inquirySchedule: readonly number[];
  /** Engine data parsed once per record object, for the readers that never change it. */
  readonly parsedEngineData: WeakMap<PaymentRecord, EngineData>;
}

export function createEngineContext(deps: EngineDeps): EngineContext {
  return {
    deps,
    inquirySchedule: deps.inquiryScheduleMs.length > 0 ? deps.inquiryScheduleMs : [10_000],
    parsedEngineData: new WeakMap(),
  };
}

/** The record's engine data, parsed afresh: the caller may change it. */
export function engineDataOf(record: PaymentRecord): EngineData {
  const raw = (record as PaymentRecord & { engine?: string }).engine;
  if (raw === undefined) return emptyEngineData({ captureDay: 0 });
  return JSON.parse(raw) as EngineData;
}

/** The record's engine data, parsed once per record object: read only. */
export function readEngineData(engine: EngineContext, record: PaymentRecord): EngineData {
  let data = engine.parsedEngineData.get(record);
  if (data === undefined) {
    data = engineDataOf(record);
    engine.parsedEngineData.set(record, data);
  }
  return data;
}

/** The follow-up of the payment's last step that job `jobId` carries out, if it still is one. */
export function pendingFollowUp(
  engine: EngineContext,
  record: PaymentRecord,
  jobId: string,
): FollowUp | undefined {
  const data = readEngineData(engine, record);
  return data.followUps.find((followUp) => 'jobId' in followUp && followUp.jobId === jobId);
}

/** Thrown when a payment's merchant is no longer configured: the job fails, the janitor escalates. */
export class UnknownMerchantError extends Error {
  override readonly name = 'UnknownMerchantError';
}

/**
 * The Sips client of the payment's merchant (MERCHANTS_FILE); payments made
 * before merchants existed, and `default`, use the deployment's client.
 */
export function sipsClientOf(engine: EngineContext, record: PaymentRecord): SipsClient {
  const merchant = record.merchant.id ?? DEFAULT_MERCHANT_ID;
  const client = engine.deps.clientFor ? engine.deps.clientFor(merchant) : undefined;
  if (client) return client;
  if (merchant === DEFAULT_MERCHANT_ID) return engine.deps.client;
  throw new UnknownMerchantError(`merchant ${merchant} is not configured (MERCHANTS_FILE)`);
}

export { DEFAULT_MERCHANT_ID };
