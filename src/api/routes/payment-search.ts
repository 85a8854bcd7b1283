/**
 * Searching and exporting payments (`payments` scope): GET /v1/payments with
 * filters and a cursor, GET /v1/payments/export as CSV or JSON Lines. A key
 * bound to merchants finds only their payments. The export is streamed: each
 * batch is read from Redis when the client has taken the previous one.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Orchestrator } from '../../orchestrator.ts';
import type { PaymentListing } from '../../payments/search.ts';
import {
  EXPORT_CONTENT_TYPES,
  exportChunks,
  exportFormatOf,
} from '../../service/payment-export.ts';
import { invalidField } from '../../service/parse.ts';
import { parseSearchQuery } from '../../service/payment-search.ts';
import { merchantScopeOf, type Guard } from '../auth.ts';

export interface PaymentSearchRoutesOptions {
  search: Orchestrator['search'];
  guard: Guard;
}

type Query = Record<string, string | string[] | undefined>;

/** The export's filters: the search's, without paging. */
function exportFilters(request: FastifyRequest<{ Querystring: Query }>) {
  const { format, ...rest } = request.query;
  for (const field of ['limit', 'cursor'] as const) {
    if (rest[field] !== undefined) throw invalidField(field, 'is not taken by the export');
  }
  return { format: exportFormatOf(format), filters: parseSearchQuery(rest) };
}

/** The batches with the first one already read, so a refusal comes before the answer starts. */
async function primed(
  batches: AsyncGenerator<PaymentListing[]>,
): Promise<AsyncGenerator<PaymentListing[]>> {
  const first = await batches.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* batches;
  })();
}

export const paymentSearchRoutes: FastifyPluginAsync<PaymentSearchRoutesOptions> = async (
  app,
  options,
) => {
  const { search, guard } = options;

  app.get<{ Querystring: Query }>('/v1/payments', guard, async (request) => {
    return search.page(parseSearchQuery(request.query), merchantScopeOf(request));
  });

  // A static path: Fastify prefers it to /v1/payments/:id whatever the order.
  app.get<{ Querystring: Query }>('/v1/payments/export', guard, async (request, reply) => {
    const { format, filters } = exportFilters(request);
    const batches = await primed(search.all(filters, merchantScopeOf(request)));
    const day = new Date().toISOString().slice(0, 10);
    void reply
      .type(EXPORT_CONTENT_TYPES[format])
      .header('content-disposition', `attachment; filename="payments-${day}.${format}"`);
    return reply.send(Readable.from(exportChunks(format, batches), { objectMode: false }));
  });
};
