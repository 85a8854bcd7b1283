/** The simulator's public surface. */
export { startSimulator, type RunningSimulator, type SimulatorOptions } from './simulator.ts';
export {
  BUILT_IN_MERCHANTS,
  SEED_EXAMPLE_MERCHANT,
  SEED_TEST_MERCHANT,
  type MerchantConfig,
} from './merchants.ts';
export {
  AMOUNT_RULE_CODES,
  REFERENCE_CARDS,
  SIMULATOR_CARDS,
  type TestCard,
  type ThreeDSBehaviour,
} from './cards.ts';
export type { FaultSpec, FaultMatch, FaultType, FaultRegistry } from './faults.ts';
export type { Ledger, Movement, MovementKind, RequestRecord, RequestFilter } from './ledger.ts';
export type { SimulatorControl, TransactionView } from './control.ts';
export type { SimulatorClock } from './clock.ts';
export {
  ANSWER_SEAL_ALGORITHMS,
  INQUIRY_CODE_FIELDS,
  type AnswerSealAlgorithm,
  type InquiryCodeField,
  type Readings,
} from './readings.ts';
export type { SipsStatus } from './store.ts';
