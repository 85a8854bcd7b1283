/**
 * Control endpoints under /_control/, for tests and people driving the
 * simulator from outside its process. Off unless enabled (option `control`
 * or SIMULATOR_CONTROL=1): then every /_control/ path answers 404 like any
 * unknown path.
 *
 *   GET    /_control/ledger          requests and movements (?service=&merchantId=
 *                                    &transactionReference=&responseCode=&fault=&limit=)
 *   GET    /_control/faults          active faults
 *   POST   /_control/faults          add one fault or a list; answers their ids
 *   DELETE /_control/faults          remove every fault
 *   DELETE /_control/faults/{id}     remove one
 *   GET    /_control/clock           simulator time
 *   POST   /_control/clock/advance   {"ms": n} or {"days": n}
 *   POST   /_control/remittance      apply remittance and expiry to every transaction now
 *   POST   /_control/reset           forget transactions, wallets, ledger, faults; configured readings
 *   GET    /_control/readings        the readings in force where the reference is unsure
 *   PUT    /_control/readings        {"inquiryCodeField"?: ..., "answerSealAlgorithm"?: ...} (readings.ts)
 *   GET    /_control/transactions/{merchantId}/{transactionReference}
 *   PUT    /_control/merchants/{merchantId}/functions  {"enabledFunctions": [...]}
 *   GET    /_control/cards           the test card table
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { isSipsServiceName, type SipsServiceName } from '../sips/services.ts';
import type { CardTable } from './cards.ts';
import { formatDateTime, type SimulatorClock } from './clock.ts';
import type { FaultRegistry } from './faults.ts';
import { readBody, sendJson } from './http-io.ts';
import type { Ledger, RequestFilter } from './ledger.ts';
import type { MerchantRegistry } from './merchants.ts';
import {
  readingsChange,
  type Readings,
  type ReadingsChange,
  type ReadingsHolder,
} from './readings.ts';
import {
  currentAmount,
  remainingAmount,
  type Transaction,
  type TransactionStore,
} from './store.ts';

/** The programmatic twin of the control endpoints. */
export interface SimulatorControl {
  advanceClock(ms: number): number;
  advanceDays(days: number): number;
  /** Applies remittance and expiry to every transaction; returns how many changed. */
  runRemittance(): number;
  /** Forgets transactions, wallets, ledger and faults; shops go back to their configuration. */
  reset(): void;
  setEnabledFunctions(merchantId: string, functions: readonly SipsServiceName[]): void;
  /** The readings answers follow where the reference is unsure (readings.ts). */
  readings(): Readings;
  /** Switches one or both readings until the next change or reset; answers the readings now. */
  setReadings(change: ReadingsChange): Readings;
  /** A transaction as the simulator holds it, card number masked. */
  transaction(merchantId: string, transactionReference: string): TransactionView | undefined;
}

export type TransactionView = Omit<Transaction, 'card' | 'redirection'> & {
  maskedPan?: string;
  currentAmount: number;
  remainingAmount: number;
};

export interface ControlDeps {
  clock: SimulatorClock;
  store: TransactionStore;
  ledger: Ledger;
  faults: FaultRegistry;
  merchants: MerchantRegistry;
  cards: CardTable;
  readings: ReadingsHolder;
  reset(): void;
}

export function viewOf(tx: Transaction): TransactionView {
  const { card, redirection: _redirection, ...rest } = tx;
  return {
    ...rest,
    ...(card ? { maskedPan: card.maskedPan } : {}),
    currentAmount: currentAmount(tx),
    remainingAmount: remainingAmount(tx),
  };
}

export function createControl(deps: ControlDeps): SimulatorControl {
  return {
    advanceClock: (ms) => deps.clock.advance(ms),
    advanceDays: (days) => deps.clock.advanceDays(days),
    runRemittance: () => deps.store.settleAll(),
    reset: () => deps.reset(),
    setEnabledFunctions: (merchantId, functions) =>
      deps.merchants.setEnabledFunctions(merchantId, functions),
    readings: () => deps.readings.current(),
    setReadings: (change) => deps.readings.change(change),
    transaction(merchantId, transactionReference) {
      const tx = deps.store.get(merchantId, transactionReference);
      return tx ? viewOf(tx) : undefined;
    },
  };
}

const advanceBody = z.union([
  z.object({ ms: z.number().nonnegative() }),
  z.object({ days: z.number().nonnegative() }),
]);

const functionsBody = z.object({ enabledFunctions: z.array(z.string()) });

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req, 1024 * 1024);
  return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
}

function clockState(clock: SimulatorClock) {
  const now = clock.now();
  return { now, iso: formatDateTime(now), offsetMs: clock.offsetMs() };
}

/** Handles one /_control/ request; answers 404 for paths it does not know. */
export async function handleControl(
  deps: ControlDeps,
  control: SimulatorControl,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const method = req.method ?? 'GET';
  const parts = url.pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  const route = `${method} ${parts.join('/')}`;
  try {
    switch (route) {
      case 'GET ledger': {
        const filter: RequestFilter = {};
        for (const name of [
          'service',
          'merchantId',
          'transactionReference',
          'responseCode',
          'fault',
        ] as const) {
          const value = url.searchParams.get(name);
          if (value !== null) filter[name] = value;
        }
        const limit = Number(url.searchParams.get('limit') ?? '1000');
        const requests = deps.ledger.requests(filter);
        const reference = filter.transactionReference;
        const movements = deps.ledger.movements(reference, filter.merchantId);
        sendJson(res, 200, {
          totalRequests: deps.ledger.totalRequests(),
          requests: requests.slice(-limit),
          movements: movements.slice(-limit),
        });
        return;
      }
      case 'GET faults':
        sendJson(res, 200, { faults: deps.faults.list() });
        return;
      case 'POST faults': {
        const ids = deps.faults.add((await jsonBody(req)) as never);
        sendJson(res, 201, { ids });
        return;
      }
      case 'DELETE faults':
        deps.faults.clear();
        sendJson(res, 200, { cleared: true });
        return;
      case 'GET clock':
        sendJson(res, 200, clockState(deps.clock));
        return;
      case 'POST clock/advance': {
        const body = advanceBody.parse(await jsonBody(req));
        if ('ms' in body) control.advanceClock(body.ms);
        else control.advanceDays(body.days);
        sendJson(res, 200, clockState(deps.clock));
        return;
      }
      case 'POST remittance':
        sendJson(res, 200, { settled: control.runRemittance(), ...clockState(deps.clock) });
        return;
      case 'POST reset':
        control.reset();
        sendJson(res, 200, { reset: true });
        return;
      case 'GET readings':
        sendJson(res, 200, { ...control.readings() });
        return;
      case 'PUT readings':
        sendJson(res, 200, { ...control.setReadings(readingsChange.parse(await jsonBody(req))) });
        return;
      case 'GET cards':
        sendJson(res, 200, { lastTwoDigits: deps.cards.lastTwoDigits, cards: deps.cards.list() });
        return;
    }
    if (method === 'DELETE' && parts[0] === 'faults' && parts.length === 2) {
      const removed = deps.faults.remove(parts[1] as string);
      sendJson(res, removed ? 200 : 404, { removed });
      return;
    }
    if (method === 'GET' && parts[0] === 'transactions' && parts.length === 3) {
      const view = control.transaction(parts[1] as string, parts[2] as string);
      sendJson(res, view ? 200 : 404, view ?? { error: 'unknown transaction' });
      return;
    }
    if (method === 'PUT' && parts[0] === 'merchants' && parts[2] === 'functions') {
      const body = functionsBody.parse(await jsonBody(req));
      const unknown = body.enabledFunctions.filter((name) => !isSipsServiceName(name));
      if (unknown.length > 0) {
        sendJson(res, 400, { error: `unknown functions: ${unknown.join(', ')}` });
        return;
      }
      control.setEnabledFunctions(parts[1] as string, body.enabledFunctions as SipsServiceName[]);
      sendJson(res, 200, { merchantId: parts[1], enabledFunctions: body.enabledFunctions });
      return;
    }
    sendJson(res, 404, { error: 'unknown control endpoint' });
  } catch (error) {
    sendJson(res, 400, { error: error instanceof Error ? error.message : String(error) });
  }
}
