/**
 * A payment's timeline as sentences: "12:03:04 — Authorised 10.00 EUR
 * (response code 00)", "Capture of 5.00 EUR requested". Each entry kind
 * (src/engine, src/service, src/schedules write them) and each payment event
 * type (machines/contract.ts) has its words; any other kind reads as its name
 * and its details. Amounts are minor units written with their currency's
 * exponent.
 */
import type { PaymentView } from '../../orchestrator.ts';
import { escapeHtml } from '../../platform/html.ts';
import { formatMoney } from '../../platform/money.ts';
import { describeResponseCode } from '../../sips/codes.ts';

type Entry = PaymentView['timeline'][number];
type Detail = Record<string, unknown>;

/** What a sentence needs of the payment beside the entry. */
export interface TimelineContext {
  currency: string;
  amount: number;
  /** The response code of the latest Sips answer before the entry. */
  responseCode?: string;
  /** The amount of the latest command before the entry (capture, cancel, refund). */
  commandAmount?: number;
}

export interface TimelineLine {
  at: string;
  /** The entry's kind, with the command or event it carries: shown small beside the sentence. */
  label: string;
  sentence: string;
  status: boolean;
}

const str = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;

/** `response code 05, refused`: the label of the code's row (sips/codes.ts), else the code alone. */
function responseCodeText(code: string): string {
  const label = describeResponseCode(code).label;
  return label ? `response code ${code}, ${label}` : `response code ${code}`;
}

const codeSuffix = (code: string | undefined): string =>
  code === undefined ? '' : ` (${responseCodeText(code)})`;

function moneyOf(value: unknown, currency: string): string | undefined {
  return typeof value === 'number' || (typeof value === 'string' && /^-?\d+$/.test(value))
    ? formatMoney(value, currency)
    : undefined;
}

const COMMAND_WORDS: Readonly<Record<string, string>> = {
  capture: 'Capture',
  cancel: 'Cancellation',
  refund: 'Refund',
};

function commandSentence(detail: Detail, context: TimelineContext): string {
  const type = str(detail.type) ?? 'command';
  const amount = moneyOf(detail.amount, context.currency);
  const word = COMMAND_WORDS[type];
  if (word) return `${word}${amount ? ` of ${amount}` : ''} requested`;
  if (type === 'review.adopt') return 'Review decided: adopt the status Sips reports';
  if (type === 'review.mark') {
    return `Review decided: mark ${str(detail.status) ?? 'a status'}${detail.force ? ' (forced)' : ''}`;
  }
  if (type.startsWith('challenge.') || type.includes('challenge')) {
    return `Fraud challenge: ${type.replaceAll(/[._]/g, ' ')}`;
  }
  return `Command ${type} received${amount ? ` for ${amount}` : ''}`;
}

function statusSentence(detail: Detail, context: TimelineContext): string {
  const to = str(detail.to) ?? 'unknown';
  const from = str(detail.from);
  const amount = (value: number | undefined) =>
    value === undefined ? '' : ` ${formatMoney(value, context.currency)}`;
  const code = codeSuffix(context.responseCode);
  const byCommand = amount(context.commandAmount);
  const words: Record<string, string> = {
    received: 'Payment received',
    enrolling: 'Checking 3-D Secure enrolment',
    awaiting_authentication: 'Customer sent to authenticate (3-D Secure or provider page)',
    authenticating: 'Customer back from authentication: checking it',
    authorizing: 'Authorisation requested',
    authorized: `Authorised${amount(context.amount)}${code}`,
    capturing: `Capturing${byCommand}`,
    captured: `Captured${byCommand}${code}`,
    cancelling: `Cancelling${byCommand}`,
    cancelled: `Cancelled${byCommand}`,
    refunding: `Refunding${byCommand}`,
    partially_refunded: `Partially refunded${byCommand}`,
    refunded: `Refunded${byCommand}`,
    refused: `Refused${code}`,
    failed: `Failed${code}`,
    expired: 'Expired',
    outcome_unknown: "Outcome unknown: Sips' answer is being inquired",
    in_review: 'Sent to manual review',
  };
  const sentence = words[to] ?? `Status ${from ?? '?'} → ${to}`;
  return from === to ? `${sentence} (status unchanged)` : sentence;
}

function callSentence(detail: Detail): string {
  const service = str(detail.service) ?? str(detail.operation) ?? 'a call';
  const duration = str(detail.durationMs);
  const took = duration === undefined ? '' : ` in ${duration} ms`;
  const outcome = str(detail.outcome);
  if (outcome === 'unknown') {
    return `No usable answer from Sips to ${service}${took}: ${str(detail.reason) ?? 'unknown reason'}`;
  }
  if (outcome === 'seal_mismatch') return `Sips' answer to ${service} failed its seal check`;
  const code = str(detail.responseCode);
  const field = str(detail.errorFieldName);
  return `Sips answered ${service}${code ? ` with ${responseCodeText(code)}` : ''}${field ? ` (field ${field})` : ''}${took}`;
}

/** Words of the payment events (machines/contract.ts), as the capture-limit steps record them. */
const EVENT_WORDS: Readonly<Record<string, (detail: Detail, context: TimelineContext) => string>> =
  {
    authorisation_expiring: (detail) =>
      `The authorisation lapses soon (capture limit ${str(detail.captureLimitAt) ?? 'unknown'})`,
    authorisation_limit_reached: (detail) =>
      `Capture limit reached (${str(detail.captureLimitAt) ?? 'unknown'})`,
    reauthorized: (detail) =>
      `Authorised again as ${str(detail.newPaymentId) ?? 'a new payment'} before the capture limit`,
    reauthorization_settled: (detail) =>
      `The new authorisation ${str(detail.newPaymentId) ?? ''} settled: ${str(detail.outcome) ?? str(detail.status) ?? 'unknown'}`,
    challenged: () => 'Authorised but held by Sips for a fraud check',
    review_resolved: () => 'Manual review resolved',
  };

function limitSentence(kind: string, detail: Detail, context: TimelineContext): string {
  const amount = moneyOf(detail.amount, context.currency);
  const operation = str(detail.type) ?? 'action';
  if (kind === 'schedule.capture') return `Scheduled capture${amount ? ` of ${amount}` : ''} due`;
  if (kind === 'capture_limit.reauthorizing') {
    return `A new authorisation (${str(detail.newPaymentId) ?? '?'}) is made before the capture limit`;
  }
  const policy = kind.slice('capture_limit.'.length);
  return `Capture limit policy ${policy}: ${operation}${amount ? ` of ${amount}` : ''}`;
}

const SIMPLE: Readonly<Record<string, (detail: Detail) => string>> = {
  inquiry: (detail) =>
    `Inquiry ${str(detail.attempt) ?? ''} at Sips: ${detail.found === 'true' ? 'transaction found' : `found ${str(detail.found) ?? '?'}`}`,
  'sips.lost': (detail) => `The call's answer was lost (${str(detail.reason) ?? 'no reason'})`,
  'sips.interrupted': (detail) =>
    `The ${str(detail.operation) ?? ''} call was interrupted before its answer was stored`,
  'sips.verify_mismatch': (detail) =>
    `Sips does not show the ${str(detail.operation) ?? ''} as sent (${str(detail.reason) ?? ''})`,
  'authentication.abandoned': () => 'The customer did not come back from authentication in time',
  'janitor.abandoned': () => 'The janitor expired an abandoned authentication',
  'janitor.escalated': (detail) =>
    `The janitor sent it to manual review: ${str(detail.detail) ?? 'no usable answer'}`,
  'remittance.pending': () => 'Not remitted yet (the janitor checked)',
  'operation.failed': (detail) =>
    `The ${str(detail.type) ?? 'command'} ${str(detail.operationId) ?? ''} failed (${str(detail.reason) ?? 'no reason'}${str(detail.responseCode) ? `, response code ${str(detail.responseCode)}` : ''}): nothing moved`,
  'refund.succeeded': (detail) =>
    `Refund ${str(detail.operationId) ?? ''} done${detail.performedAs === 'cancel' ? ' as a cancel (Sips had not remitted the payment)' : ''}`,
  'refund.failed': (detail) => `Refund ${str(detail.operationId) ?? ''} failed`,
  'refund.held': (detail) =>
    `Refund ${str(detail.operationId) ?? ''} held until Sips remits the payment`,
};

/** `some_kind.here` with its details: the words of a kind no sentence knows. */
function genericSentence(kind: string, detail: Detail | undefined, currency: string): string {
  const words = kind.replaceAll(/[._]+/g, ' ').trim();
  const head = words.charAt(0).toUpperCase() + words.slice(1);
  const parts = Object.entries(detail ?? {}).map(([key, value]) => {
    const shown =
      key === 'amount' || key.endsWith('Amount')
        ? (moneyOf(value, currency) ?? JSON.stringify(value))
        : typeof value === 'string'
          ? value
          : JSON.stringify(value);
    return `${key} ${shown}`;
  });
  return parts.length > 0 ? `${head}: ${parts.join(', ')}` : head;
}

/** The sentence of one timeline entry. */
function sentenceOf(entry: Entry, context: TimelineContext): string {
  const detail = entry.detail ?? {};
  switch (entry.kind) {
    case 'created': {
      const amount = moneyOf(detail.amount, context.currency);
      return `Payment${amount ? ` of ${amount}` : ''} created (${str(detail.kind) ?? 'payment'})`;
    }
    case 'command':
      return commandSentence(detail, context);
    case 'status':
      return statusSentence(detail, context);
    case 'sips.call':
      return callSentence(detail);
  }
  const simple = SIMPLE[entry.kind];
  if (simple) return simple(detail);
  if (entry.kind === 'schedule.capture' || entry.kind.startsWith('capture_limit.')) {
    return limitSentence(entry.kind, detail, context);
  }
  const event = EVENT_WORDS[entry.kind.replace(/^payment\./, '')];
  if (event) return event(detail, context);
  return genericSentence(entry.kind, entry.detail, context.currency);
}

/** Every entry as a line, the context (latest answer, latest command) carried along. */
export function timelineLines(
  payment: Pick<PaymentView, 'amount' | 'currency' | 'timeline'>,
): TimelineLine[] {
  const context: TimelineContext = { currency: payment.currency, amount: payment.amount };
  return payment.timeline.map((entry) => {
    const detail = entry.detail ?? {};
    if (entry.kind === 'command' && typeof detail.amount === 'number') {
      context.commandAmount = detail.amount;
    }
    if (entry.kind === 'sips.call') {
      const code = str(detail.responseCode);
      if (code === undefined) delete context.responseCode;
      else context.responseCode = code;
    }
    const carried = str(detail.type) ?? str(detail.event);
    const label =
      (entry.kind === 'command' || entry.kind === 'status') && carried
        ? `${entry.kind} ${carried}`
        : entry.kind;
    return {
      at: entry.at,
      label,
      sentence: sentenceOf(entry, context),
      status: entry.kind === 'status',
    };
  });
}

/** `12:03:04` of an ISO time (UTC), the whole time when it is not one. */
function clockTime(at: string): string {
  const match = /T(\d{2}:\d{2}:\d{2})/.exec(at);
  return match?.[1] ?? at;
}

/** The timeline as an ordered list: time, sentence, the entry's kind. */
export function timelineList(
  payment: Pick<PaymentView, 'amount' | 'currency' | 'timeline'>,
): string {
  const lines = timelineLines(payment);
  if (lines.length === 0) return '<p class="muted">No entry.</p>';
  const items = lines.map(
    (line) =>
      `<li${line.status ? ' class="status"' : ''}><time datetime="${escapeHtml(line.at)}" title="${escapeHtml(line.at)}">${escapeHtml(clockTime(line.at))}</time><span class="sentence">— ${escapeHtml(line.sentence)}</span><code class="kind">${escapeHtml(line.label)}</code></li>`,
  );
  return `<ol class="timeline">\n${items.join('\n')}\n</ol>`;
}
