/**
 * The filters of the console's lists: a plain GET form (`?q=` text, and
 * `?status=` among the values the list has) read and applied on the
 * server, so a filtered list is a link and no script runs.
 */
import { escapeHtml } from '../../platform/html.ts';

export interface ListFilter {
  /** Text every matching row contains (case-insensitive); empty matches all. */
  q: string;
  /** The status (or kind) a matching row has; empty matches all. */
  status: string;
}

export type FilterQuery = { q?: string; status?: string };

/** The filter a request's query asks for, bounded. */
export function readFilter(query: FilterQuery | undefined): ListFilter {
  const clean = (value: unknown): string =>
    typeof value === 'string' ? value.trim().slice(0, 200) : '';
  return { q: clean(query?.q), status: clean(query?.status) };
}

/** Whether a row of `status` whose searchable text is `fields` passes the filter. */
export function matches(
  filter: ListFilter,
  status: string | undefined,
  fields: readonly (string | number | undefined)[],
): boolean {
  if (filter.status !== '' && status !== filter.status) return false;
  if (filter.q === '') return true;
  const needle = filter.q.toLowerCase();
  return fields.some(
    (field) => field !== undefined && String(field).toLowerCase().includes(needle),
  );
}

/**
 * The form: a search box, a select of `statuses` (the `label` names it),
 * Filter and Clear, and how many rows are shown of how many.
 */
export function filterForm(
  action: string,
  filter: ListFilter,
  options: { statuses: readonly string[]; label?: string; shown: number; total: number },
): string {
  const label = options.label ?? 'status';
  const choices = [...new Set([...options.statuses, ...(filter.status ? [filter.status] : [])])]
    .sort()
    .map(
      (status) =>
        `<option${status === filter.status ? ' selected' : ''}>${escapeHtml(status)}</option>`,
    )
    .join('');
  return `<form class="filters" method="GET" action="${escapeHtml(action)}" role="search">
<label>Search <input type="search" name="q" value="${escapeHtml(filter.q)}" placeholder="id, text…" size="28"></label>
<label>${escapeHtml(label)} <select name="status"><option value="">all</option>${choices}</select></label>
<button>Filter</button> <a href="${escapeHtml(action)}">Clear</a>
<span class="count">${options.shown} of ${options.total} shown</span>
</form>`;
}

/**
 * `items` through `filter`, and the list's form: `status` is what the
 * select chooses among, `fields` the text the search looks in.
 */
export function filterList<T>(
  action: string,
  filter: ListFilter,
  items: readonly T[],
  by: {
    status(item: T): string | undefined;
    fields(item: T): readonly (string | number | undefined)[];
    label?: string;
  },
): { shown: T[]; form: string } {
  const shown = items.filter((item) => matches(filter, by.status(item), by.fields(item)));
  const form = filterForm(action, filter, {
    statuses: items.flatMap((item) => by.status(item) ?? []),
    ...(by.label === undefined ? {} : { label: by.label }),
    shown: shown.length,
    total: items.length,
  });
  return { shown, form };
}
