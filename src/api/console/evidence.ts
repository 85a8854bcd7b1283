/**
 * A review item's evidence for a person: the seal verdict, then every field
 * side by side as sent to Sips, as received, and as each inquiry read it.
 * A field whose values disagree is marked (a row class and the text
 * "differs", for screen readers too) and listed first; long values wrap.
 * The whole evidence follows as JSON, folded.
 */
import type { ReviewEvidence } from '../../payments/review.ts';
import { escapeHtml } from '../../platform/html.ts';
import { facts, text } from './shared.ts';

type Fields = Record<string, unknown> | undefined;

const shown = (value: unknown): string | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value);

interface FieldRow {
  field: string;
  values: (string | undefined)[];
  differs: boolean;
}

/** One row per field of any column; `differs` when two present values disagree. */
export function fieldRows(columns: Fields[]): FieldRow[] {
  const names = [...new Set(columns.flatMap((column) => Object.keys(column ?? {})))].sort();
  const rows = names.map((field) => {
    const values = columns.map((column) => shown(column?.[field]));
    const present = values.filter((value) => value !== undefined);
    return { field, values, differs: new Set(present).size > 1 };
  });
  return [...rows.filter((row) => row.differs), ...rows.filter((row) => !row.differs)];
}

function sealTable(evidence: ReviewEvidence): string {
  const seal = evidence.seal;
  if (!seal) return '';
  return facts([
    ['seal verified', seal.verified ? 'yes' : '<span class="marker">no</span>'],
    ['reason', text(seal.reason)],
    ['seal rule tried', text(seal.algorithm)],
  ]);
}

function fieldsTable(evidence: ReviewEvidence): string {
  const inquiries = evidence.inquiries ?? [];
  const columns: Fields[] = [evidence.request, evidence.response, ...inquiries];
  const headings = ['field', 'sent', 'received', ...inquiries.map((_, i) => `inquiry ${i + 1}`)];
  const rows = fieldRows(columns);
  if (rows.length === 0) return '<p class="muted">No field was recorded.</p>';
  const body = rows.map(
    (row) =>
      `<tr${row.differs ? ' class="differs"' : ''}><th scope="row"><code>${text(row.field)}</code></th>${row.values
        .map(
          (value) =>
            `<td>${value === undefined ? '<span class="muted">—</span>' : text(value)}</td>`,
        )
        .join('')}<td>${row.differs ? '<span class="marker">≠ differs</span>' : ''}</td></tr>`,
  );
  const differing = rows.filter((row) => row.differs).length;
  return `<p>${differing === 0 ? 'No field differs between the columns.' : `${differing} field(s) differ: listed first and marked.`}</p>
<div class="table-wrap"><table class="evidence"><thead><tr>${[...headings, '']
    .map((heading) => `<th>${escapeHtml(heading)}</th>`)
    .join('')}</tr></thead>
<tbody>${body.join('\n')}</tbody></table></div>`;
}

/** The evidence section of a review item's page. */
export function evidenceSection(evidence: ReviewEvidence): string {
  return `${sealTable(evidence)}
${evidence.note ? `<p>Note: ${text(evidence.note)}</p>` : ''}
<h3>Fields</h3>
${fieldsTable(evidence)}
<details><summary>The whole evidence (JSON)</summary><pre>${escapeHtml(JSON.stringify(evidence, null, 2))}</pre></details>`;
}
