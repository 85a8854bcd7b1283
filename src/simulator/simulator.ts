/**
 * A local Sogenactif Office Server (Sips 2.0 Office JSON): sealed, stateful,
 * with a simulated ACS, fault injection and a ledger of what it saw.
 *
 * One call goes: content type (415) → body → faults that stop the call
 * before Sips would process it (90/99, hang, reset, HTTP 5xx) → envelope
 * (03, 34, 30 interfaceVersion, 40) → fields (12, 30) → the function's
 * handler (store, wallets, movements) → sealed answer → faults that hit the
 * answer (bad or missing seal, dropped connection) → simulated latency →
 * the answer. Latency is waited after processing, so a client that times
 * out during it leaves a processed transaction behind, which is the case a
 * payment orchestrator must survive. Waiting uses timers, never the CPU, so
 * thousands of delayed calls can be in flight at once.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock } from '../platform/clock.ts';
import { randomIds, type IdGenerator } from '../platform/ids.ts';
import { silentLogger, type Logger } from '../platform/logger.ts';
import type { SecretKey } from '../sips/secret-key.ts';
import { domainOf, isSipsServiceName, type SipsServiceName } from '../sips/services.ts';
import { acsDecide, acsPage, providerDecide, providerPage, type PagesContext } from './acs.ts';
import { createCardTable, type CardTable, type TestCard } from './cards.ts';
import { createSimulatorClock, type SimulatorClock } from './clock.ts';
import {
  createControl,
  handleControl,
  type ControlDeps,
  type SimulatorControl,
} from './control.ts';
import {
  createFaultRegistry,
  type FaultDecision,
  type FaultRegistry,
  type FaultSpec,
  type FaultSubject,
} from './faults.ts';
import { UNSUPPORTED_MEDIA_TYPE_PAGE } from './html.ts';
import {
  BodyTooLarge,
  isJsonContentType,
  parseForm,
  readBody,
  sendError,
  sendHtml,
  sendJson,
} from './http-io.ts';
import { createLedger, type Ledger, type LedgerOptions, type RequestRecord } from './ledger.ts';
import {
  createMerchantRegistry,
  type Merchant,
  type MerchantConfig,
  type MerchantRegistry,
} from './merchants.ts';
import { maskPan } from '../sips/mask.ts';
import {
  checkEnvelope,
  currentKey,
  failureAnswer,
  merchantIdFromText,
  sealAnswer,
  SipsFailure,
  type SipsAnswer,
  type SipsRequest,
} from './protocol.ts';
import { createSequences, type Sequences } from './services/context.ts';
import { int, referenceOf, str } from './services/fields.ts';
import { SERVICE_HANDLERS } from './services/index.ts';
import { createTransactionStore, type TransactionStore } from './store.ts';
import { validateRequest } from '../sips/schemas.ts';
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
}

export interface RunningSimulator {
  /** Base URL, e.g. `http://127.0.0.1:7070`; Sips paths go under it. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  readonly ledger: Ledger;
  readonly store: TransactionStore;
  readonly wallets: WalletStore;
  readonly faults: FaultRegistry;
  readonly clock: SimulatorClock;
  readonly control: SimulatorControl;
  readonly merchants: MerchantRegistry;
  readonly cards: CardTable;
}

interface Processed {
  answer: SipsAnswer;
  key: SecretKey | undefined;
  processed: boolean;
  transactionReference?: string;
  maskedPan?: string;
}

const PAGE_ROUTES: Readonly<
  Record<string, (ctx: PagesContext, form: Record<string, string>, res: ServerResponse) => void>
> = {
  '/acs': acsPage,
  '/acs/decide': acsDecide,
  '/provider': providerPage,
  '/provider/decide': providerDecide,
};

function isObject(value: unknown): value is SipsRequest {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The code a Sips answer reports, whatever the function calls it. */
function codeOf(answer: SipsAnswer): string | undefined {
  const code = answer.walletResponseCode ?? answer.getTransDataResponseCode ?? answer.responseCode;
  return typeof code === 'string' ? code : undefined;
}

function corrupt(seal: string): string {
  // Same length and alphabet, different value: only a real check notices.
  const last = seal.at(-1) === '0' ? '1' : '0';
  return `${seal.slice(0, -1)}${last}`;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const host = options.host ?? '127.0.0.1';
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
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const controlEnabled = options.control ?? false;
  let publicUrl = options.publicUrl ?? '';

  const controlDeps: ControlDeps = {
    clock,
    store,
    ledger,
    faults,
    merchants,
    cards,
    reset() {
      store.clear();
      wallets.clear();
      ledger.clear();
      faults.clear();
      merchants.reset();
    },
  };
  const control = createControl(controlDeps);
  const pages: PagesContext = { store, sequences };

  // Delayed answers: kept so close() can release them at once.
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const delay = (ms: number): Promise<void> => {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          pendingDelays.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      pendingDelays.add(entry);
    });
  };

  function keyFor(merchant: Merchant, body: SipsRequest | undefined): SecretKey {
    const version = body ? str(body, 'keyVersion') : undefined;
    return (version !== undefined && merchant.keys.get(version)) || currentKey(merchant);
  }

  function failure(
    service: SipsServiceName,
    error: SipsFailure,
    key: SecretKey | undefined,
    processed: boolean,
  ): Processed {
    return { answer: failureAnswer(service, error, clock.now()), key, processed };
  }

  function processCall(
    service: SipsServiceName,
    body: SipsRequest | undefined,
    raw: string,
  ): Processed {
    if (!body) {
      const merchant = merchants.get(merchantIdFromText(raw) ?? '');
      return failure(service, new SipsFailure('30'), merchant && currentKey(merchant), false);
    }
    const envelope = checkEnvelope(service, body, merchants);
    if (!envelope.ok) return failure(service, envelope.failure, envelope.key, false);
    const fields = validateRequest(service, body);
    if (!fields.ok) {
      const error = new SipsFailure(fields.responseCode, { errorFieldName: fields.errorFieldName });
      return failure(service, error, envelope.key, false);
    }
    try {
      const result = SERVICE_HANDLERS[service]({
        service,
        merchant: envelope.merchant,
        body,
        now: clock.now(),
        store,
        wallets,
        cards,
        sequences,
        publicUrl,
      });
      return {
        answer: result.answer,
        key: envelope.key,
        processed: true,
        ...(result.transactionReference !== undefined
          ? { transactionReference: result.transactionReference }
          : {}),
        ...(result.maskedPan !== undefined ? { maskedPan: result.maskedPan } : {}),
      };
    } catch (error) {
      if (error instanceof SipsFailure) return failure(service, error, envelope.key, true);
      throw error;
    }
  }

  /** The card a call is about, for faults matching on a PAN (looked up only when one does). */
  function panOf(
    service: SipsServiceName,
    body: SipsRequest,
    merchantId: string,
  ): string | undefined {
    const cardNumber = str(body, 'cardNumber');
    if (cardNumber !== undefined) return cardNumber;
    const walletId = str(body, 'merchantWalletId');
    const meanId = str(body, 'paymentMeanId');
    if (walletId !== undefined && meanId !== undefined && service !== 'deletePaymentMean') {
      return wallets.paymentMean(merchantId, walletId, meanId)?.pan;
    }
    const token = str(body, 'redirectionData');
    if (token !== undefined) return store.byToken(token)?.card?.pan;
    const reference = referenceOf(body) ?? referenceOf(body, 'fromTransactionReference');
    return reference === undefined ? undefined : store.get(merchantId, reference)?.card?.pan;
  }

  function subjectOf(
    service: SipsServiceName,
    body: SipsRequest | undefined,
    raw: string,
  ): FaultSubject {
    if (!body) return { service, merchantId: merchantIdFromText(raw) };
    const merchantId = str(body, 'merchantId');
    const amount = int(body, 'amount') ?? int(body, 'operationAmount');
    const wantsPan = faults.list().some((fault) => fault.spec.match?.pan !== undefined);
    return {
      service,
      merchantId,
      transactionReference: referenceOf(body),
      ...(amount !== undefined && Number.isFinite(amount) ? { amount } : {}),
      ...(wantsPan && merchantId ? { pan: panOf(service, body, merchantId) } : {}),
    };
  }

  const gone = (res: ServerResponse) =>
    res.destroyed || res.socket === null || res.socket.destroyed;

  function reset(res: ServerResponse): void {
    const socket = res.socket as Socket | null;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
  }

  async function answer(
    res: ServerResponse,
    decision: FaultDecision,
    write: (res: ServerResponse) => void,
  ): Promise<void> {
    await delay(decision.latencyMs);
    if (!gone(res)) write(res);
  }

  async function handleService(
    service: SipsServiceName,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
  ): Promise<void> {
    const record: Omit<RequestRecord, 'seq'> = {
      at: clock.now(),
      path,
      service,
      processed: false,
    };
    if (!isJsonContentType(req.headers['content-type'])) {
      await readBody(req, maxBodyBytes).catch(() => '');
      ledger.recordRequest({ ...record, httpStatus: 415 });
      sendHtml(res, 415, UNSUPPORTED_MEDIA_TYPE_PAGE);
      return;
    }
    let raw: string;
    try {
      raw = await readBody(req, maxBodyBytes);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      ledger.recordRequest({ ...record, httpStatus: 413 });
      res.setHeader('connection', 'close');
      sendError(res, 413, 'The request body is too large.');
      return;
    }
    let body: SipsRequest | undefined;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isObject(parsed)) body = parsed;
    } catch {
      body = undefined;
    }

    const subject = subjectOf(service, body, raw);
    if (subject.merchantId !== undefined) record.merchantId = subject.merchantId;
    if (subject.transactionReference !== undefined) {
      record.transactionReference = subject.transactionReference;
    }
    if (subject.amount !== undefined) record.amount = subject.amount;
    const cardNumber = body ? str(body, 'cardNumber') : undefined;
    if (cardNumber !== undefined) record.maskedPan = maskPan(cardNumber);

    const decision = faults.evaluate(subject);
    const fault = decision.fault?.spec;
    if (decision.fault) {
      record.fault = decision.fault.spec.type;
      record.faultId = decision.fault.id;
    } else if (decision.latencyFaults.length > 0) {
      record.fault = 'latency';
      record.faultId = decision.latencyFaults.join(',');
    }

    // Faults that stop the call before Sips processes it.
    const afterProcessing =
      fault !== undefined &&
      (fault.type === 'corruptSeal' ||
        fault.type === 'missingSeal' ||
        fault.type === 'dropAfterProcessing' ||
        ('afterProcessing' in fault && fault.afterProcessing === true));
    if (fault && !afterProcessing) {
      switch (fault.type) {
        case 'responseCode': {
          const merchant = merchants.get(subject.merchantId ?? '');
          const technical = failure(
            service,
            new SipsFailure(fault.responseCode),
            merchant && keyFor(merchant, body),
            false,
          );
          const payload = sealAnswer(technical.answer, technical.key, body);
          ledger.recordRequest({ ...record, responseCode: fault.responseCode, httpStatus: 200 });
          await answer(res, decision, (r) => sendJson(r, 200, payload));
          return;
        }
        case 'hang':
          ledger.recordRequest(record);
          return; // Never answered: the socket stays open until the client or close() ends it.
        case 'reset':
          ledger.recordRequest(record);
          await answer(res, decision, reset);
          return;
        case 'httpStatus':
          ledger.recordRequest({ ...record, httpStatus: fault.status });
          await answer(res, decision, (r) => sendError(r, fault.status));
          return;
      }
    }

    const outcome = processCall(service, body, raw);
    const payload = sealAnswer(outcome.answer, outcome.key, body);
    if (fault?.type === 'corruptSeal') {
      payload.seal = corrupt(typeof payload.seal === 'string' ? payload.seal : '0'.repeat(64));
    }
    if (fault?.type === 'missingSeal') delete payload.seal;
    const code = codeOf(outcome.answer);
    const done: Omit<RequestRecord, 'seq'> = {
      ...record,
      processed: outcome.processed,
      ...(code !== undefined ? { responseCode: code } : {}),
      ...(typeof outcome.answer.errorFieldName === 'string'
        ? { errorFieldName: outcome.answer.errorFieldName }
        : {}),
      ...(outcome.transactionReference !== undefined
        ? { transactionReference: outcome.transactionReference }
        : {}),
      ...(outcome.maskedPan !== undefined ? { maskedPan: outcome.maskedPan } : {}),
    };
    logger.debug(
      {
        service,
        merchantId: done.merchantId,
        transactionReference: done.transactionReference,
        responseCode: done.responseCode,
        fault: done.fault,
      },
      'sips call',
    );

    switch (fault?.type) {
      case 'dropAfterProcessing':
      case 'reset':
        ledger.recordRequest(done);
        await answer(res, decision, reset);
        return;
      case 'hang':
        ledger.recordRequest(done);
        return;
      case 'httpStatus':
        ledger.recordRequest({ ...done, httpStatus: fault.status });
        await answer(res, decision, (r) => sendError(r, fault.status));
        return;
      default:
        ledger.recordRequest({ ...done, httpStatus: 200 });
        await answer(res, decision, (r) => sendJson(r, 200, payload));
    }
  }

  async function handlePage(
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const page = PAGE_ROUTES[path];
    if (!page) return;
    const form = parseForm(await readBody(req, maxBodyBytes));
    ledger.recordRequest({ at: clock.now(), path, processed: true, httpStatus: 200 });
    page(pages, form, res);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const sips = /^\/rs-services\/v2\/([A-Za-z]+)\/([A-Za-z]+)$/.exec(path);
    if (sips) {
      const [, domain, name] = sips;
      if (name !== undefined && isSipsServiceName(name) && domainOf(name) === domain) {
        if (method !== 'POST') {
          res.setHeader('allow', 'POST');
          sendError(res, 405);
          return;
        }
        await handleService(name, req, res, path);
        return;
      }
    } else if (path in PAGE_ROUTES) {
      if (method !== 'POST') {
        res.setHeader('allow', 'POST');
        sendError(res, 405);
        return;
      }
      await handlePage(path, req, res);
      return;
    } else if (controlEnabled && path.startsWith('/_control/')) {
      await handleControl(controlDeps, control, req, res, url);
      return;
    }
    ledger.recordRequest({ at: clock.now(), path, processed: false, httpStatus: 404 });
    sendError(res, 404, `The requested URL ${path} was not found on this server.`);
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      logger.error({ err: error, path: req.url }, 'simulator failure');
      if (!res.headersSent && !gone(res)) sendError(res, 500);
      else res.destroy();
    });
  });
  // Long-lived keep-alive: a benchmark reuses its connections instead of reopening them.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`;
  if (!publicUrl) publicUrl = url;
  publicUrl = publicUrl.replace(/\/+$/, '');
  logger.info({ url, control: controlEnabled }, 'simulator listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    ledger,
    store,
    wallets,
    faults,
    clock,
    control,
    merchants,
    cards,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const entry of pendingDelays) {
          clearTimeout(entry.timer);
          entry.resolve();
        }
        pendingDelays.clear();
        server.close(() => resolve());
        // Held (hanging) and idle keep-alive sockets would keep close() waiting forever.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
