/**
 * The console's review pages: one manual-review item with its evidence and
 * the forms that decide it (adopt what Sips says, run the inquiry again, or
 * mark a status by hand).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ReviewItem } from '../../payments/review.ts';
import { escapeHtml } from '../../platform/html.ts';
import { isReviewAction } from '../params.ts';
import { html, page, tokenField, type ConsoleOptions } from './shared.ts';

const MARKABLE = ['refused', 'failed', 'authorized', 'captured', 'cancelled'] as const;

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
<label>Decide <select name="status">${MARKABLE.map((status) => `<option>${status}</option>`).join('')}</select></label>
<label>Note <input name="note" required></label> <button>Mark</button></form>`;
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
        `<p>Payment <a href="/ops/payments/${encodeURIComponent(item.paymentId)}">${escapeHtml(item.paymentId)}</a>, reason <strong>${escapeHtml(item.reason)}</strong>, since ${escapeHtml(new Date(item.enqueuedAt).toISOString())}</p>
${decisionForms(item, options.formToken(request))}
<h2>Evidence</h2><pre>${escapeHtml(JSON.stringify(item.evidence, null, 2))}</pre>`,
      ),
    );
  });

  app.post<{ Params: { jobId: string }; Body: Record<string, string> }>(
    '/ops/reviews/:jobId/resolve',
    async (request, reply) => {
      const body = request.body ?? {};
      const action = body.action;
      if (!isReviewAction(action)) {
        return html(
          reply.code(400),
          page('Unknown action', '<p>Use the buttons of the review page.</p>'),
        );
      }
      try {
        const result = await reviews.resolve(request.params.jobId, {
          action,
          note: body.note ?? '',
          by: 'console',
          ...(body.status ? { details: { status: body.status } } : {}),
        });
        return reply.redirect(`/ops/payments/${encodeURIComponent(result.payment.id)}`, 303);
      } catch (error) {
        return html(
          reply.code(409),
          page(
            'Not resolved',
            `<p>${escapeHtml(error instanceof Error ? error.message : String(error))}</p>
<p><a href="/ops/reviews/${encodeURIComponent(request.params.jobId)}">Back to the item</a></p>`,
          ),
        );
      }
    },
  );
};
