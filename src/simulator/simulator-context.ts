/**
 * The simulator's options and the state one running simulator shares
 * between its endpoints: clock, shops, cards, transactions, wallets,
 * faults, ledger, control API, the readings answers follow where the
 * reference is unsure, and the delays of answers in flight.
 */
import type { Clock } from '../platform/clock.ts';
import { randomIds, type IdGenerator } from '../platform/ids.ts';
import { silentLogger, type Logger } from '../platform/logger.ts';
import type { PagesContext } from './acs.ts';
import { createCardTable, type CardTable, type TestCard } from './cards.ts';
import { createSimulatorClock, type SimulatorClock } from './clock.ts';
import { createDelays, type Delays } from './connection.ts';
import { createControl, type ControlDeps, type SimulatorControl } from './control.ts';
import { createFaultRegistry, type FaultRegistry, type FaultSpec } from './faults.ts';
import { createLedger, type Ledger, type LedgerOptions } from './ledger.ts';
import { createMerchantRegistry, type MerchantConfig, type MerchantRegistry } from './merchants.ts';
import {
  createReadings,
  namedReadings,
  type AnswerSealAlgorithm,
  type InquiryCodeField,
  type ReadingsHolder,
} from './readings.ts';
import { createSequences, type Sequences } from './services/context.ts';
import { createTransactionStore, type TransactionStore } from './store.ts';
import { createWalletStore, type WalletStore } from './wallets.ts';

export interface SimulatorOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** Base URL browsers use to reach the simulator (ACS pages). @defaultValue `http://{host}:{port}` */
  publicUrl?: string;
  /** Shops besides (or replacing) the built-in ones. */
  merchants?: readonly MerchantConfig[];
  /** Include the seed's recette shop and example shop. @defaultValue true */
  builtInMerchants?: boolean;
  /** Time source; the control API moves the simulator ahead of it. @defaultValue system clock */
  clock?: Clock;
  /** Tokens and identifiers. @defaultValue random */
  ids?: IdGenerator;
  /** @defaultValue silent */
  logger?: Logger;
  /** Serve /_control/ endpoints. @defaultValue false */
  control?: boolean;
  /** Faults active from the start. */
  faults?: readonly FaultSpec[];
  /** Seed of the generator behind fault rates and latency distributions. @defaultValue 1 */
  faultSeed?: number;
  /** Extra test cards, matched before the built-in table. */
  cards?: readonly TestCard[];
  /** Cards outside the table answer the code in their last two digits. @defaultValue false */
  lastTwoDigits?: boolean;
  /** UTC hour of the daily remittance run. @defaultValue 22 */
  remittanceHourUtc?: number;
  /** Ledger ring sizes. @defaultValue 10 000 requests, 1 000 000 movements */
  ledger?: LedgerOptions;
  /** Transactions kept in memory (oldest forgotten first). @defaultValue 1 000 000 */
  maxTransactions?: number;
  /** @defaultValue 1 MiB */
  maxBodyBytes?: number;
  /**
   * Which field carries getTransactionData's own result (readings.ts).
   * @defaultValue 'getTransDataResponseCode'
   */
  inquiryCodeField?: InquiryCodeField;
  /** How answers are sealed (readings.ts). @defaultValue 'request' */
  answerSealAlgorithm?: AnswerSealAlgorithm;
}

export interface SimulatorContext {
  readonly logger: Logger;
  readonly clock: SimulatorClock;
  readonly ledger: Ledger;
  readonly merchants: MerchantRegistry;
  readonly cards: CardTable;
  readonly store: TransactionStore;
  readonly wallets: WalletStore;
  readonly faults: FaultRegistry;
  readonly sequences: Sequences;
  /** The readings the answers follow where the reference is unsure. */
  readonly readings: ReadingsHolder;
  readonly maxBodyBytes: number;
  /** Whether /_control/ endpoints are served. */
  readonly controlEnabled: boolean;
  readonly controlDeps: ControlDeps;
  readonly control: SimulatorControl;
  readonly pages: PagesContext;
  /** Delayed answers, released at once by close(). */
  readonly delays: Delays;
  /** Base URL browsers use (no trailing slash); the listening URL unless given. */
  publicUrl: string;
}

export function createSimulatorContext(options: SimulatorOptions): SimulatorContext {
  const logger = options.logger ?? silentLogger();
  const clock = createSimulatorClock(options.clock);
  const ids = options.ids ?? randomIds;
  const ledger = createLedger(options.ledger);
  const merchants = createMerchantRegistry(options.merchants ?? [], options.builtInMerchants);
  const cards = createCardTable({
    ...(options.cards ? { cards: options.cards } : {}),
    lastTwoDigits: options.lastTwoDigits ?? false,
  });
  const store = createTransactionStore({
    clock,
    ledger,
    ...(options.remittanceHourUtc !== undefined
      ? { remittanceHourUtc: options.remittanceHourUtc }
      : {}),
    ...(options.maxTransactions !== undefined ? { maxTransactions: options.maxTransactions } : {}),
  });
  const wallets = createWalletStore();
  const faults = createFaultRegistry(options.faults ?? [], options.faultSeed ?? 1);
  const sequences: Sequences = createSequences(ids);
  const readings = createReadings(namedReadings(options));
  const controlDeps: ControlDeps = {
    clock,
    store,
    ledger,
    faults,
    merchants,
    cards,
    readings,
    reset() {
      store.clear();
      wallets.clear();
      ledger.clear();
      faults.clear();
      merchants.reset();
      readings.reset();
    },
  };
  return {
    logger,
    clock,
    ledger,
    merchants,
    cards,
    store,
    wallets,
    faults,
    sequences,
    readings,
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    controlEnabled: options.control ?? false,
    controlDeps,
    control: createControl(controlDeps),
    pages: { store, sequences },
    delays: createDelays(),
    publicUrl: options.publicUrl ?? '',
  };
}
