/**
 * The 3-D Secure and provider pages, called by the customer's browser (so
 * not behind API keys): the auto-submitting form to the ACS or the provider,
 * and the two return URLs that resume the payment and send the customer back
 * to the merchant.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { IN_FLIGHT_STATUSES } from '../../../machines/model.ts';
import { CommandError } from '../../engine/errors.ts';
import type { Orchestrator, PaymentView } from '../../orchestrator.ts';
import { escapeHtml } from '../../platform/html.ts';
import { authenticationPage } from '../pages.ts';
import { ApiError } from '../problems.ts';

export interface AuthenticationRoutesOptions {
  payments: Orchestrator['payments'];
  /** How long a return waits for the payment to settle before redirecting. */
  settleTimeoutMs: number;
  /** The API's public origin, for the TermUrl; without it, the origin the browser used. */
  publicUrl?: string | undefined;
}

type Body = Record<string, unknown>;

export const authenticationRoutes: FastifyPluginAsync<AuthenticationRoutesOptions> = async (
  app,
  options,
) => {
  const { payments } = options;

  app.get<{ Params: { id: string } }>('/v1/payments/:id/authentication', async (request, reply) => {
    const payment = await payments.get(request.params.id);
    if (!payment.redirection?.url) {
      return reply
        .code(409)
        .type('text/html; charset=utf-8')
        .send(
          `<!DOCTYPE html><p>Payment ${escapeHtml(payment.id)} is ${escapeHtml(payment.status)}: no authentication is pending.</p>`,
        );
    }
    const origin =
      options.publicUrl?.replace(/\/+$/, '') ?? `${request.protocol}://${request.host}`;
    const termUrl = `${origin}/v1/payments/${encodeURIComponent(payment.id)}/authentication/term`;
    return reply.type('text/html; charset=utf-8').send(authenticationPage(payment, termUrl));
  });

  /** Resumes the payment with what the browser brought back, then sends the customer on. */
  const settleAndRedirect = async (reply: FastifyReply, id: string, returned: Body) =>
    redirectToMerchant(reply, await settle(payments, id, returned, options.settleTimeoutMs));

  app.post<{ Params: { id: string }; Body: Body }>(
    '/v1/payments/:id/authentication/term',
    async (request, reply) => {
      const body = (request.body ?? {}) as Body;
      if (typeof body.PaRes !== 'string' || body.PaRes.length === 0) {
        throw new ApiError('invalid_command', 'PaRes is required', 'PaRes');
      }
      // MD carries the payment id: a PaRes posted to another payment's URL is refused.
      if (body.MD !== request.params.id) {
        throw new ApiError('invalid_command', 'MD does not belong to this payment', 'MD');
      }
      return settleAndRedirect(reply, request.params.id, { paRes: body.PaRes });
    },
  );

  app.post<{ Params: { id: string }; Body: Body }>(
    '/v1/payments/:id/authentication/return',
    async (request, reply) => {
      const body = (request.body ?? {}) as Body;
      const redirectionData = body.redirectionData ?? body.redirection_data;
      const messageVersion = body.messageVersion ?? body.message_version;
      if (typeof redirectionData !== 'string' || typeof messageVersion !== 'string') {
        throw new ApiError(
          'invalid_command',
          'redirectionData and messageVersion are required',
          'redirectionData',
        );
      }
      return settleAndRedirect(reply, request.params.id, { redirectionData, messageVersion });
    },
  );
};

/**
 * Resumes the payment with what the browser brought back and waits, up to
 * `timeoutMs`, for it to leave the in-flight statuses.
 */
async function settle(
  payments: Orchestrator['payments'],
  id: string,
  returned: Body,
  timeoutMs: number,
): Promise<PaymentView> {
  let payment: PaymentView;
  try {
    payment = await payments.completeAuthentication(id, returned);
  } catch (error) {
    // A second post (double click, back button, refresh) finds the payment
    // already resumed: the customer is sent on with its current status.
    if (
      !(error instanceof CommandError) ||
      (error.code !== 'command_not_allowed' && error.code !== 'payment_busy')
    ) {
      throw error;
    }
    payment = await payments.get(id);
    if (payment.status === 'awaiting_authentication') throw error;
  }
  const deadline = Date.now() + timeoutMs;
  while (
    (IN_FLIGHT_STATUSES.has(payment.status) || payment.status === 'outcome_unknown') &&
    Date.now() < deadline
  ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    payment = await payments.get(id);
  }
  return payment;
}

/** To the merchant's returnUrl with the payment id and status, or a plain page without one. */
function redirectToMerchant(reply: FastifyReply, payment: PaymentView): FastifyReply {
  if (!payment.returnUrl) {
    return reply
      .type('text/html; charset=utf-8')
      .send(
        `<!DOCTYPE html><p>Payment ${escapeHtml(payment.id)}: ${escapeHtml(payment.status)}</p>`,
      );
  }
  const target = new URL(payment.returnUrl);
  target.searchParams.set('paymentId', payment.id);
  target.searchParams.set('status', payment.status);
  return reply.redirect(target.toString(), 303);
}
