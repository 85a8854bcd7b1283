/**
 * Routing of the simulator's HTTP requests: Sips functions under
 * /rs-services/v2/{domain}/{function} (POST only), the browser pages of the
 * simulated ACS and payment provider, the /_control/ API when enabled, and
 * 404 for anything else. A failure while serving is a 500 (or a dropped
 * connection when the answer had started).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { domainOf, isSipsServiceName } from '../sips/services.ts';
import { acsDecide, acsPage, providerDecide, providerPage, type PagesContext } from './acs.ts';
import { isGone } from './connection.ts';
import { handleControl } from './control.ts';
import { parseForm, readBody, sendError } from './http-io.ts';
import type { SimulatorContext } from './simulator-context.ts';
import { handleService } from './sips-endpoint.ts';

const PAGE_ROUTES: Readonly<
  Record<string, (ctx: PagesContext, form: Record<string, string>, res: ServerResponse) => void>
> = {
  '/acs': acsPage,
  '/acs/decide': acsDecide,
  '/provider': providerPage,
  '/provider/decide': providerDecide,
};

const SIPS_PATH = /^\/rs-services\/v2\/([A-Za-z]+)\/([A-Za-z]+)$/;

async function handlePage(
  ctx: SimulatorContext,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const page = PAGE_ROUTES[path];
  if (!page) return;
  const form = parseForm(await readBody(req, ctx.maxBodyBytes));
  ctx.ledger.recordRequest({ at: ctx.clock.now(), path, processed: true, httpStatus: 200 });
  page(ctx.pages, form, res);
}

function methodNotAllowed(res: ServerResponse): void {
  res.setHeader('allow', 'POST');
  sendError(res, 405);
}

export async function route(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const sips = SIPS_PATH.exec(path);
  if (sips) {
    const [, domain, name] = sips;
    if (name !== undefined && isSipsServiceName(name) && domainOf(name) === domain) {
      if (method !== 'POST') return methodNotAllowed(res);
      await handleService(ctx, name, req, res, path);
      return;
    }
  } else if (path in PAGE_ROUTES) {
    if (method !== 'POST') return methodNotAllowed(res);
    await handlePage(ctx, path, req, res);
    return;
  } else if (ctx.controlEnabled && path.startsWith('/_control/')) {
    await handleControl(ctx.controlDeps, ctx.control, req, res, url);
    return;
  }
  ctx.ledger.recordRequest({ at: ctx.clock.now(), path, processed: false, httpStatus: 404 });
  sendError(res, 404, `The requested URL ${path} was not found on this server.`);
}

/** The server's request listener. */
export function requestListener(
  ctx: SimulatorContext,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(ctx, req, res).catch((error: unknown) => {
      ctx.logger.error({ err: error, path: req.url }, 'simulator failure');
      if (!res.headersSent && !isGone(res)) sendError(res, 500);
      else res.destroy();
    });
  };
}
