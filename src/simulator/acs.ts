/**
 * The customer-facing pages: a simulated 3-D Secure ACS and a simulated
 * external provider. They work without JavaScript; the tester picks the
 * outcome with a button (cards with a fixed 3-D Secure outcome only offer
 * that outcome and Cancel).
 *
 * ACS, 3-D Secure 1.0 shape (seed "Formulaire POST vers l'ACS"):
 *   POST /acs  PaReq, TermUrl, MD  →  outcome page  →  POST /acs/decide
 *   →  auto-submitting form posting PaRes and MD to TermUrl.
 * ACS, 3-D Secure 2 / provider shape:
 *   POST /acs  redirection_data, message_version  →  …  →  auto-submitting
 *   form posting redirectionData, messageVersion, merchantId to the
 *   merchantReturnUrl given at enrolment.
 * Provider (seed "Formulaire POST vers des fournisseurs externes"), and the
 * issuer wallet of walletIssuerWalletInitialize, which the dictionary sends
 * through the same form:
 *   POST /provider  redirection_data, message_version  →  …  →  the same
 *   three fields to merchantReturnUrl.
 */
import type { ServerResponse } from 'node:http';
import { autoSubmitPage, choicePage, type ChoiceButton } from './html.ts';
import { sendError, sendHtml } from './http-io.ts';
import type { Sequences } from './services/context.ts';
import type { PendingRedirection, TransactionStore, Transaction } from './store.ts';

export interface PagesContext {
  store: TransactionStore;
  sequences: Sequences;
}

const THREE_DS_OUTCOMES: readonly ChoiceButton[] = [
  { value: 'SUCCESS', label: 'Authentication succeeds' },
  { value: 'FAILURE', label: 'Authentication fails' },
  { value: 'ATTEMPT', label: 'Attempt (issuer not participating)' },
  { value: 'CANCEL', label: 'Cancel' },
];

const PROVIDER_OUTCOMES: readonly ChoiceButton[] = [
  { value: 'APPROVED', label: 'Approve the payment' },
  { value: 'DECLINED', label: 'Decline the payment' },
  { value: 'CANCEL', label: 'Cancel' },
];

function first(form: Record<string, string>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = form[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

function describe(tx: Transaction): string[] {
  const amount = (tx.amount / 100).toFixed(2);
  return [
    `Merchant: ${tx.merchantId}`,
    `Transaction: ${tx.transactionReference}`,
    `Amount: ${amount} (currency ${tx.currencyCode})`,
    ...(tx.card ? [`Card: ${tx.card.maskedPan}`] : []),
    ...(tx.paymentMeanBrand && !tx.card ? [`Payment mean: ${tx.paymentMeanBrand}`] : []),
  ];
}

/** The provider page also serves issuer wallets: both use the "POST form to external suppliers". */
const PROVIDER_KINDS: readonly PendingRedirection['kind'][] = ['provider', 'issuerWallet'];

function pendingOf(
  ctx: PagesContext,
  token: string | undefined,
  kinds: readonly PendingRedirection['kind'][],
): Transaction | undefined {
  if (token === undefined) return undefined;
  const tx = ctx.store.byToken(token);
  const kind = tx?.redirection?.kind;
  if (!tx || kind === undefined || !kinds.includes(kind) || tx.status !== 'TO_AUTHORIZE') {
    return undefined;
  }
  return tx;
}

/** POST /acs */
export function acsPage(
  ctx: PagesContext,
  form: Record<string, string>,
  res: ServerResponse,
): void {
  const paReq = first(form, 'PaReq', 'paReq');
  const token = paReq ?? first(form, 'redirection_data', 'redirectionData');
  const tx = pendingOf(ctx, token, ['threeDS']);
  if (!tx?.redirection) {
    sendError(res, 400, 'No pending 3-D Secure authentication for this request.');
    return;
  }
  const redirection = tx.redirection;
  const termUrl = first(form, 'TermUrl', 'termUrl');
  if (paReq !== undefined && termUrl === undefined) {
    sendError(res, 400, 'TermUrl is missing.');
    return;
  }
  if (termUrl === undefined && !redirection.merchantReturnUrl) {
    sendError(res, 400, 'No TermUrl in the form and no merchantReturnUrl at enrolment.');
    return;
  }
  const fields: Record<string, string> = { token: redirection.redirectionData };
  if (termUrl !== undefined) {
    fields.TermUrl = termUrl;
    fields.MD = first(form, 'MD', 'md') ?? '';
  }
  const fixed = redirection.behaviour !== 'CHOOSE';
  const buttons = fixed
    ? [
        { value: redirection.behaviour, label: `Authenticate (${redirection.behaviour})` },
        { value: 'CANCEL', label: 'Cancel' },
      ]
    : THREE_DS_OUTCOMES;
  sendHtml(
    res,
    200,
    choicePage({
      title: 'Simulated 3-D Secure authentication',
      heading: '3-D Secure authentication (Sips simulator)',
      details: [...describe(tx), `Message version: ${redirection.messageVersion}`],
      action: '/acs/decide',
      fields,
      buttons,
    }),
  );
}

/** POST /acs/decide */
export function acsDecide(
  ctx: PagesContext,
  form: Record<string, string>,
  res: ServerResponse,
): void {
  const tx = pendingOf(ctx, form.token, ['threeDS']);
  const choice = form.outcome;
  if (
    !tx?.redirection ||
    choice === undefined ||
    !THREE_DS_OUTCOMES.some((o) => o.value === choice)
  ) {
    sendError(res, 400, 'No pending 3-D Secure authentication for this request.');
    return;
  }
  const redirection = tx.redirection;
  // A card with a fixed outcome can only be authenticated its way (or abandoned).
  const outcome =
    redirection.behaviour === 'CHOOSE' || choice === 'CANCEL' ? choice : redirection.behaviour;
  redirection.outcome = outcome;
  redirection.paRes = ctx.sequences.token('PARES');
  ctx.store.indexToken(redirection.paRes, tx);

  const termUrl = form.TermUrl;
  if (termUrl) {
    sendHtml(
      res,
      200,
      autoSubmitPage('Processing your 3-D Secure Transaction', termUrl, {
        PaRes: redirection.paRes,
        MD: form.MD ?? '',
      }),
    );
    return;
  }
  sendHtml(
    res,
    200,
    autoSubmitPage('Processing your 3-D Secure Transaction', redirection.merchantReturnUrl ?? '', {
      redirectionData: redirection.redirectionData,
      messageVersion: redirection.messageVersion,
      merchantId: tx.merchantId,
    }),
  );
}

/** POST /provider */
export function providerPage(
  ctx: PagesContext,
  form: Record<string, string>,
  res: ServerResponse,
): void {
  const tx = pendingOf(ctx, first(form, 'redirection_data', 'redirectionData'), PROVIDER_KINDS);
  if (!tx?.redirection) {
    sendError(res, 400, 'No pending provider payment for this request.');
    return;
  }
  sendHtml(
    res,
    200,
    choicePage({
      title: 'Simulated payment provider',
      heading: `${tx.paymentMeanBrand ?? 'Provider'} payment (Sips simulator)`,
      details: describe(tx),
      action: '/provider/decide',
      fields: { token: tx.redirection.redirectionData },
      buttons: PROVIDER_OUTCOMES,
    }),
  );
}

/** POST /provider/decide */
export function providerDecide(
  ctx: PagesContext,
  form: Record<string, string>,
  res: ServerResponse,
): void {
  const tx = pendingOf(ctx, form.token, PROVIDER_KINDS);
  const choice = form.outcome;
  if (
    !tx?.redirection ||
    choice === undefined ||
    !PROVIDER_OUTCOMES.some((o) => o.value === choice)
  ) {
    sendError(res, 400, 'No pending provider payment for this request.');
    return;
  }
  tx.redirection.outcome = choice;
  sendHtml(
    res,
    200,
    autoSubmitPage('Processing your Transaction', tx.redirection.merchantReturnUrl ?? '', {
      merchantId: tx.merchantId,
      messageVersion: tx.redirection.messageVersion,
      redirectionData: tx.redirection.redirectionData,
    }),
  );
}
