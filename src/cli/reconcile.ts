/**
 * `sogenactif reconcile --date YYYY-MM-DD`: the daily reconciliation report
 * of the API (GET /v1/reconciliation/{date}, ops scope) in a terminal: totals
 * per currency, ours against Sips', then every difference. `--json` prints
 * the report as the API answers it. Exit code 0 when everything matches, 1
 * when something differs, Sips could not answer about a payment, or the API
 * refused.
 */
import type { ReconciliationReport } from '../service/reconciliation.ts';
import { describeFailure } from './failure.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from './io.ts';
import { call, parse } from './ops.ts';

export const RECONCILE_USAGE = `usage: sogenactif reconcile --date YYYY-MM-DD [--json] [--api URL] [--key KEY]

Compares our amounts of the payments created on that UTC day with what Sips holds.
--api defaults to SOGENACTIF_API_URL or http://127.0.0.1:3000; the key (ops scope) to
--key, SOGENACTIF_API_KEY, else the development key when SIPS_ENV is simulator.
Exit code 0: everything matches; 1: differences, payments Sips could not answer about,
or a refusal of the API.
`;

function parseArgs(args: readonly string[]): { options: Record<string, string>; json: boolean } {
  const parsed = parse(args, ['date', 'api', 'key'], ['json'], { positional: false });
  const { json, ...options } = parsed.options;
  if (!options.date) throw new UsageError('--date is required');
  return { options, json: json === 'true' };
}

const amountsLine = (label: string, a: ReconciliationReport['totals'][number]['ours']) =>
  `  ${label.padEnd(5)} authorized ${a.authorized}  captured ${a.captured}  cancelled ${a.cancelled}  refunded ${a.refunded}`;

function describe(report: ReconciliationReport): string {
  const lines = [
    `reconciliation of ${report.date} (UTC): ${report.payments} payment(s), ${report.compared} compared with Sips`,
  ];
  for (const total of report.totals) {
    lines.push(`currency ${total.currency}: ${total.payments} payment(s)`);
    lines.push(amountsLine('ours', total.ours), amountsLine('sips', total.sips));
  }
  if (report.mismatches.length === 0) lines.push('no difference');
  for (const m of report.mismatches) {
    lines.push(`DIFF ${m.paymentId} ${m.field}: ours ${m.ours}, sips ${m.sips} (${m.currency})`);
  }
  for (const u of report.unavailable) lines.push(`UNAVAILABLE ${u.paymentId}: ${u.detail}`);
  return `${lines.join('\n')}\n`;
}

export async function runReconcile(args: readonly string[], io: CliIo): Promise<number> {
  const { options, json } = parseArgs(args);
  const answer = await call(
    io,
    options,
    'GET',
    `/v1/reconciliation/${encodeURIComponent(options.date as string)}`,
  );
  if (answer.status >= 400) {
    io.stderr(describeFailure({ status: answer.status, json: answer.json }));
    return EXIT_FAILURE;
  }
  const report = answer.json as ReconciliationReport;
  io.stdout(json ? `${JSON.stringify(report, null, 2)}\n` : describe(report));
  return report.mismatches.length === 0 && report.unavailable.length === 0 ? EXIT_OK : EXIT_FAILURE;
}
