/** The frame of every ops console page: one stylesheet, the navigation, escaped titles. */
import type { FastifyReply } from 'fastify';
import { escapeHtml } from '../platform/html.ts';

const STYLE = `body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}pre{background:#f6f6f6;padding:.8rem;overflow:auto}
form.inline{display:inline-block;margin:.3rem 1rem .3rem 0}nav a{margin-right:1rem}`;

const NAVIGATION: readonly (readonly [string, string])[] = [
  ['/ops', 'Overview'],
  ['/ops/subscriptions', 'Subscriptions'],
  ['/ops/instalment-plans', 'Instalment plans'],
  ['/ops/schedules', 'Scheduled'],
  ['/ops/alerts', 'Alerts'],
  ['/ops/janitor', 'Janitor'],
  ['/ops/queues', 'Queues'],
  ['/docs', 'API docs'],
];

export function page(title: string, body: string): string {
  const links = NAVIGATION.map(([href, label]) => `<a href="${href}">${label}</a>`).join('');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><nav>${links}</nav>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

export function html(reply: FastifyReply, text: string): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(text);
}

/** The hidden field that carries the console's form token (see app.ts). */
export function tokenField(token: string): string {
  return `<input type="hidden" name="formToken" value="${escapeHtml(token)}">`;
}
