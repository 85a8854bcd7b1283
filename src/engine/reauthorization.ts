/**
 * The capture-limit reauthorisation as the engine reads it. The machine keeps
 * it (machines/capture-limit.ts); payments stored before kept it in their
 * facts (`reauthorizing`, `reauthorizationId`, `reauthorizedAs`,
 * `reauthorizationOutcome`). Those facts are read as the machine's state and
 * lifted into the snapshot, and out of the facts, by the payment's next step.
 */
import {
  LEGACY_REAUTHORIZATION_FACTS,
  reauthorizationFromFacts,
  type Reauthorization,
} from '../../machines/capture-limit.ts';
import type { PersistedSnapshot } from '../../machines/contract.ts';
import { captureLimitOf, withReauthorization } from '../../machines/index.ts';
import type { PaymentRecord } from '../payments/store.ts';
import { engineDataOf } from './context.ts';
import { ENGINE_DATA_FORMAT, type EngineData } from './engine-data.ts';

function hasLegacyFacts(facts: Readonly<Record<string, string>>): boolean {
  return LEGACY_REAUTHORIZATION_FACTS.some((name) => facts[name] !== undefined);
}

/** Where the payment's reauthorisation stands, whichever version stored it. */
export function reauthorizationOf(
  record: PaymentRecord,
  data: EngineData = engineDataOf(record),
): Reauthorization | undefined {
  if (hasLegacyFacts(data.facts)) return reauthorizationFromFacts(data.facts);
  return captureLimitOf(record.snapshot).reauthorization;
}

/**
 * The snapshot to step: with the reauthorisation of legacy facts lifted into
 * it, and those facts removed from `data` (written with the step).
 */
export function liftLegacyFacts(snapshot: PersistedSnapshot, data: EngineData): PersistedSnapshot {
  data.format = ENGINE_DATA_FORMAT;
  if (!hasLegacyFacts(data.facts)) return snapshot;
  const lifted = reauthorizationFromFacts(data.facts);
  for (const name of LEGACY_REAUTHORIZATION_FACTS) delete data.facts[name];
  return lifted === undefined ? snapshot : withReauthorization(snapshot, lifted);
}
