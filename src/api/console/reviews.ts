/**
 * The console's review pages: one manual-review item with its evidence and
 * the forms that decide it (adopt what Sips says, run the inquiry again,
 * mark a status Sips confirms, or force a mark with a reason). A decision is
 * recorded under the name of the key logged in to the console.
 */
import type { FastifyPluginAsync } from 'fastify';
import { CommandError } from '../../engine/errors.ts';
import { parseCommand } from '../../payments/commands.ts';
import { MARK_STATUSES, type ReviewItem } from '../../payments/review.ts';
import { escapeHtml } from '../../platform/html.ts';
import { ResolveReviewBody } from '../../service/reviews.ts';
import { evidenceSection } from './evidence.ts';
import { badge, html, page, tokenField, type ConsoleOptions } from './shared.ts';

const statusOptions = (): string =>
  MARK_STATUSES.map((status) => `<option>${status}</option>`).join('');

function decisionForms(item: ReviewItem, formToken: string): string {
  if (item.state === 'resolved') {
    return `<p>Resolved: <code>${escapeHtml(JSON.stringify(item.resolution ?? {}))}</code></p>`;
  }
  const action = `/ops/reviews/${encodeURIComponent(item.jobId)}/resolve`;
  const token = tokenField(formToken);
  const open = (value: string) =>
    `<form class="inline" method="POST" action="${action}">${token}<input type="hidden" name="action" value="${value}">`;
  return `${open('adopt')}
<label>Note <input name="note" required></label> <button>Ask Sips and adopt its status</button></form>
${open('reinquire')}
<input type="hidden" name="note" value="inquiry from the console"><button>Run the inquiry again</button></form>
${open('mark')}
<label>Decide <select name="status">${statusOptions()}</select></label>
<label>Note <input name="note" required></label> <button>Mark, once Sips confirms it</button></form>
${open('mark')}<input type="hidden" name="force" value="yes">
<label>Force <select name="status">${statusOptions()}</select></label>
<label>Note <input name="note" required></label>
<label>Reason for forcing <input name="reason" required></label>
<button>Mark without Sips' confirmation</button></form>`;
}

/** The decision a console form carries, in the shape the API takes. */
function formDecision(body: Record<string, string>): Record<string, unknown> {
  return {
    action: body.action,
    note: body.note ?? '',
    ...(body.status ? { status: body.status } : {}),
    ...(body.force === 'yes' ? { force: true } : {}),
    ...(body.reason !== undefined ? { reason: body.reason } : {}),
  };
}

function notResolved(jobId: string, message: string): string {
  return page(
    'Not resolved',
    `<p>${escapeHtml(message)}</p>
<p><a href="/ops/reviews/${encodeURIComponent(jobId)}">Back to the item</a></p>`,
  );
}

export const reviewPages: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const { reviews } = options.orchestrator;

  app.get<{ Params: { jobId: string } }>('/ops/reviews/:jobId', async (request, reply) => {
    const item = await reviews.get(request.params.jobId).catch(() => undefined);
    if (!item) {
      return html(
        reply.code(404),
        page('Review item not found', '<p>It may have been resolved.</p>'),
      );
    }
    return html(
      reply,
      page(
        `Review ${item.jobId}`,
        `<p>Payment <a href="/ops/payments/${encodeURIComponent(item.paymentId)}">${escapeHtml(item.paymentId)}</a>, reason <strong>${escapeHtml(item.reason)}</strong>, ${badge(item.state)} since ${escapeHtml(new Date(item.enqueuedAt).toISOString())}</p>
<div class="actions">${decisionForms(item, options.sessions.formToken(request))}</div>
<h2>Evidence</h2>
${evidenceSection(item.evidence)}`,
      ),
    );
  });

  app.post<{ Params: { jobId: string }; Body: Record<string, string> }>(
    '/ops/reviews/:jobId/resolve',
    async (request, reply) => {
      const { jobId } = request.params;
      const parsed = parseCommand(ResolveReviewBody, formDecision(request.body ?? {}));
      if (!parsed.ok) {
        return html(reply.code(400), notResolved(jobId, `${parsed.field} ${parsed.message}`));
      }
      try {
        const result = await reviews.resolve(jobId, {
          ...parsed.value,
          // The key whose session made the request: never anything the request carries.
          by: options.sessions.keyName(request),
        });
        return reply.redirect(`/ops/payments/${encodeURIComponent(result.payment.id)}`, 303);
      } catch (error) {
        const status = error instanceof CommandError ? error.status : 409;
        return html(
          reply.code(status),
          notResolved(jobId, error instanceof Error ? error.message : String(error)),
        );
      }
    },
  );
};
