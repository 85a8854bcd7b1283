/**
 * The HTTP side of a Sips function call: content type (415) → body (413) →
 * faults that stop the call before Sips would process it (90/99, hang,
 * reset, HTTP 5xx) → processing → sealed answer → faults that hit the
 * answer (bad or missing seal, dropped connection, hang, HTTP 5xx) →
 * simulated latency → the answer. Every call leaves one ledger record.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { maskPan } from '../sips/mask.ts';
import type { SecretKey } from '../sips/secret-key.ts';
import type { SipsServiceName } from '../sips/services.ts';
import { answerLater, resetConnection } from './connection.ts';
import type { FaultDecision, FaultSpec, FaultSubject } from './faults.ts';
import { UNSUPPORTED_MEDIA_TYPE_PAGE } from './html.ts';
import {
  BodyTooLarge,
  isJsonContentType,
  readBody,
  sendError,
  sendHtml,
  sendJson,
} from './http-io.ts';
import type { RequestRecord } from './ledger.ts';
import { sealAnswer, SipsFailure, type SipsAnswer, type SipsRequest } from './protocol.ts';
import { answerAsRead } from './readings.ts';
import { str } from './services/fields.ts';
import type { SimulatorContext } from './simulator-context.ts';
import {
  codeOf,
  corruptSeal,
  failureOf,
  keyFor,
  parseSipsBody,
  processCall,
  subjectOf,
  type Processed,
} from './sips-call.ts';

/** A ledger record being filled in. */
type Draft = Omit<RequestRecord, 'seq'>;

/** One call on its way through the endpoint. */
interface Call {
  service: SipsServiceName;
  res: ServerResponse;
  raw: string;
  body: SipsRequest | undefined;
  subject: FaultSubject;
  decision: FaultDecision;
  record: Draft;
}

/** Faults applied to the answer of a processed call (the others stop it before). */
export function actsAfterProcessing(fault: FaultSpec): boolean {
  return (
    fault.type === 'corruptSeal' ||
    fault.type === 'missingSeal' ||
    fault.type === 'forgedAnswer' ||
    fault.type === 'dropAfterProcessing' ||
    ('afterProcessing' in fault && fault.afterProcessing === true)
  );
}

/** The raw body, or `undefined` when the call was already answered (415, 413). */
async function readCall(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  record: Draft,
): Promise<string | undefined> {
  if (!isJsonContentType(req.headers['content-type'])) {
    await readBody(req, ctx.maxBodyBytes).catch(() => '');
    ctx.ledger.recordRequest({ ...record, httpStatus: 415 });
    sendHtml(res, 415, UNSUPPORTED_MEDIA_TYPE_PAGE);
    return undefined;
  }
  try {
    return await readBody(req, ctx.maxBodyBytes);
  } catch (error) {
    if (!(error instanceof BodyTooLarge)) throw error;
    ctx.ledger.recordRequest({ ...record, httpStatus: 413 });
    res.setHeader('connection', 'close');
    sendError(res, 413, 'The request body is too large.');
    return undefined;
  }
}

/** Fills the record with what the call is about and which faults it met. */
function noteCall(
  record: Draft,
  subject: FaultSubject,
  body: SipsRequest | undefined,
  decision: FaultDecision,
): void {
  if (subject.merchantId !== undefined) record.merchantId = subject.merchantId;
  if (subject.transactionReference !== undefined) {
    record.transactionReference = subject.transactionReference;
  }
  if (subject.amount !== undefined) record.amount = subject.amount;
  const cardNumber = body ? str(body, 'cardNumber') : undefined;
  if (cardNumber !== undefined) record.maskedPan = maskPan(cardNumber);
  const keyVersion = body ? str(body, 'keyVersion') : undefined;
  if (keyVersion !== undefined) record.keyVersion = keyVersion;
  if (decision.fault) {
    record.fault = decision.fault.spec.type;
    record.faultId = decision.fault.id;
  } else if (decision.latencyFaults.length > 0) {
    record.fault = 'latency';
    record.faultId = decision.latencyFaults.join(',');
  }
}

/** Applies a fault that stops the call before processing; false when `fault` is not one. */
async function answerUnprocessed(
  ctx: SimulatorContext,
  call: Call,
  fault: FaultSpec,
): Promise<boolean> {
  const { service, res, body, subject, decision, record } = call;
  const later = (write: (res: ServerResponse) => void) =>
    answerLater(ctx.delays, res, decision.latencyMs, write);
  switch (fault.type) {
    case 'responseCode': {
      const merchant = ctx.merchants.get(subject.merchantId ?? '');
      const technical = failureOf(
        ctx,
        service,
        new SipsFailure(fault.responseCode),
        merchant && keyFor(merchant, body),
        false,
      );
      const payload = wireAnswer(ctx, service, technical.answer, technical.key, body);
      ctx.ledger.recordRequest({ ...record, responseCode: fault.responseCode, httpStatus: 200 });
      await later((r) => sendJson(r, 200, payload));
      return true;
    }
    case 'hang':
      ctx.ledger.recordRequest(record);
      return true; // Never answered: the socket stays open until the client or close() ends it.
    case 'reset':
      ctx.ledger.recordRequest(record);
      await later(resetConnection);
      return true;
    case 'httpStatus':
      ctx.ledger.recordRequest({ ...record, httpStatus: fault.status });
      await later((r) => sendError(r, fault.status));
      return true;
  }
  return false;
}

/** The record of a processed call. */
function processedRecord(record: Draft, outcome: Processed): Draft {
  const code = codeOf(outcome.answer);
  return {
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
}

/** The answer as sent: in the readings in force (readings.ts), absent fields dropped, sealed. */
function wireAnswer(
  ctx: SimulatorContext,
  service: SipsServiceName,
  answer: SipsAnswer,
  key: SecretKey | undefined,
  body: SipsRequest | undefined,
): SipsAnswer {
  const readings = ctx.readings.current();
  const read = answerAsRead(service, answer, readings);
  return sealAnswer(read, key, body, readings.answerSealAlgorithm);
}

/** The sealed answer, spoiled by a seal fault. */
function sealedPayload(
  ctx: SimulatorContext,
  service: SipsServiceName,
  outcome: Processed,
  body: SipsRequest | undefined,
  fault: FaultSpec | undefined,
): SipsAnswer {
  const payload = wireAnswer(ctx, service, outcome.answer, outcome.key, body);
  if (fault?.type === 'corruptSeal') {
    payload.seal = corruptSeal(typeof payload.seal === 'string' ? payload.seal : '0'.repeat(64));
  }
  if (fault?.type === 'missingSeal') delete payload.seal;
  if (fault?.type === 'forgedAnswer') return { responseCode: fault.responseCode } as SipsAnswer;
  return payload;
}

/** Processes the call, then answers it, through the fault that hits the answer if any. */
async function answerProcessed(
  ctx: SimulatorContext,
  call: Call,
  fault: FaultSpec | undefined,
): Promise<void> {
  const { service, res, raw, body, decision, record } = call;
  const outcome = processCall(ctx, service, body, raw);
  const payload = sealedPayload(ctx, service, outcome, body, fault);
  const done = processedRecord(record, outcome);
  ctx.logger.debug(
    {
      service,
      merchantId: done.merchantId,
      transactionReference: done.transactionReference,
      responseCode: done.responseCode,
      fault: done.fault,
    },
    'sips call',
  );
  const later = (write: (res: ServerResponse) => void) =>
    answerLater(ctx.delays, res, decision.latencyMs, write);
  switch (fault?.type) {
    case 'dropAfterProcessing':
    case 'reset':
      ctx.ledger.recordRequest(done);
      await later(resetConnection);
      return;
    case 'hang':
      ctx.ledger.recordRequest(done);
      return;
    case 'httpStatus':
      ctx.ledger.recordRequest({ ...done, httpStatus: fault.status });
      await later((r) => sendError(r, fault.status));
      return;
    default:
      ctx.ledger.recordRequest({ ...done, httpStatus: 200 });
      await later((r) => sendJson(r, 200, payload));
  }
}

/** Serves one call of a Sips function (POST to its path). */
export async function handleService(
  ctx: SimulatorContext,
  service: SipsServiceName,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const record: Draft = { at: ctx.clock.now(), path, service, processed: false };
  const raw = await readCall(ctx, req, res, record);
  if (raw === undefined) return;
  const body = parseSipsBody(raw);
  const subject = subjectOf(ctx, service, body, raw);
  const decision = ctx.faults.evaluate(subject);
  noteCall(record, subject, body, decision);
  const call: Call = { service, res, raw, body, subject, decision, record };
  const fault = decision.fault?.spec;
  if (fault && !actsAfterProcessing(fault) && (await answerUnprocessed(ctx, call, fault))) return;
  await answerProcessed(ctx, call, fault);
}
