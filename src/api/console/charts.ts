/**
 * The overview's charts, drawn on the server as inline SVG (no script): the
 * last hour's acceptance rate per 5-minute bucket, and its response codes as
 * bars. Built from the authorisation outcomes of the event streams
 * (Operations.recentOutcomes); every label escaped.
 */
import { escapeHtml } from '../../platform/html.ts';
import type { OutcomeFigure } from '../../service/operations.ts';

export const CHART_WINDOW_MS = 60 * 60_000;
const BUCKET_MS = 5 * 60_000;

export interface Bucket {
  /** Ms since the epoch. */
  start: number;
  authorised: number;
  refused: number;
}

/** The outcomes of [now - 1 h, now) per 5-minute bucket, oldest first. */
export function acceptanceBuckets(outcomes: readonly OutcomeFigure[], now: number): Bucket[] {
  const count = CHART_WINDOW_MS / BUCKET_MS;
  const first = Math.floor(now / BUCKET_MS) * BUCKET_MS - (count - 1) * BUCKET_MS;
  const buckets: Bucket[] = Array.from({ length: count }, (_, i) => ({
    start: first + i * BUCKET_MS,
    authorised: 0,
    refused: 0,
  }));
  for (const outcome of outcomes) {
    const bucket = buckets[Math.floor((outcome.at - first) / BUCKET_MS)];
    if (!bucket) continue;
    if (outcome.type === 'payment.authorized') bucket.authorised++;
    else if (outcome.type === 'payment.refused') bucket.refused++;
  }
  return buckets;
}

/** Response codes and how often each came: authorised is `00`, a failure without one `none`. */
export function responseCodeCounts(outcomes: readonly OutcomeFigure[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) {
    if (outcome.type === 'payment.challenged') continue;
    const code = outcome.type === 'payment.authorized' ? '00' : (outcome.responseCode ?? 'none');
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

const W = 560;
const H = 200;
const LEFT = 40;
const BOTTOM = 24;
const TOP = 12;

const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

/** Acceptance rate (%) per bucket: a line through the buckets that had answers, a grid at 0/50/100. */
export function acceptanceChart(buckets: readonly Bucket[]): string {
  const plotW = W - LEFT - 10;
  const plotH = H - TOP - BOTTOM;
  const step = plotW / Math.max(1, buckets.length - 1);
  const x = (i: number) => LEFT + i * step;
  const y = (rate: number) => TOP + plotH * (1 - rate);
  const grid = [0, 0.5, 1]
    .map(
      (rate) =>
        `<line class="grid" x1="${LEFT}" x2="${W - 10}" y1="${y(rate)}" y2="${y(rate)}"/><text x="${LEFT - 6}" y="${y(rate) + 4}" text-anchor="end">${rate * 100}%</text>`,
    )
    .join('');
  const points = buckets.flatMap((bucket, i) => {
    const answers = bucket.authorised + bucket.refused;
    return answers === 0 ? [] : [{ i, rate: bucket.authorised / answers, bucket, answers }];
  });
  const line =
    points.length > 1
      ? `<polyline class="line" points="${points.map((p) => `${x(p.i).toFixed(1)},${y(p.rate).toFixed(1)}`).join(' ')}"/>`
      : '';
  const dots = points
    .map(
      (p) =>
        `<circle class="dot" cx="${x(p.i).toFixed(1)}" cy="${y(p.rate).toFixed(1)}" r="3.5"><title>${hhmm(p.bucket.start)}: ${Math.round(p.rate * 100)}% of ${p.answers}</title></circle>`,
    )
    .join('');
  const labels = buckets
    .map((bucket, i) =>
      i % 3 === 0
        ? `<text x="${x(i).toFixed(1)}" y="${H - 6}" text-anchor="middle">${hhmm(bucket.start)}</text>`
        : '',
    )
    .join('');
  const summary =
    points.length === 0
      ? 'no authorisation answer in the last hour'
      : points.map((p) => `${hhmm(p.bucket.start)} ${Math.round(p.rate * 100)}%`).join(', ');
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Acceptance rate per 5 minutes: ${escapeHtml(summary)}"><title>Acceptance rate per 5 minutes (UTC)</title>${grid}${line}${dots}${labels}${points.length === 0 ? `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">No authorisation answer in the last hour</text>` : ''}</svg>`;
}

/** One horizontal bar per response code, the count at its end. */
export function responseCodeChart(counts: readonly [string, number][]): string {
  const shown = counts.slice(0, 10);
  const rowH = 22;
  const height = Math.max(60, shown.length * rowH + 16);
  const max = Math.max(1, ...shown.map(([, count]) => count));
  const plotW = W - 70 - 50;
  const bars = shown
    .map(([code, count], i) => {
      const top = 8 + i * rowH;
      const width = Math.max(2, (count / max) * plotW);
      return `<text x="60" y="${top + 14}" text-anchor="end">${escapeHtml(code)}</text><rect class="bar${code === '00' ? '' : ' refused'}" x="70" y="${top + 2}" width="${width.toFixed(1)}" height="${rowH - 6}" rx="3"><title>${escapeHtml(code)}: ${count}</title></rect><text x="${(70 + width + 6).toFixed(1)}" y="${top + 14}">${count}</text>`;
    })
    .join('');
  const summary = shown.map(([code, count]) => `${code}: ${count}`).join(', ') || 'none';
  return `<svg class="chart" viewBox="0 0 ${W} ${height}" role="img" aria-label="Response codes in the last hour: ${escapeHtml(summary)}"><title>Response codes in the last hour</title>${bars}${shown.length === 0 ? `<text x="${W / 2}" y="34" text-anchor="middle">No answer in the last hour</text>` : ''}</svg>`;
}
