/**
 * Cross-site request forgery against the API and the console, replayed in
 * headless Chromium: an ops person logged into the console (session cookie)
 * whose browser also holds the ops key as HTTP Basic credentials opens a page
 * of another site, which auto-submits forms (urlencoded and text/plain
 * shaped as JSON) and no-CORS fetches to every `/v1` POST route of the
 * OpenAPI document, with real ids, and to the console's actions. Nothing may
 * change: the payment in review stays in review, the challenge stays
 * pending, the janitor does not run, no command reaches the orchestrator.
 * Then the same rules over plain HTTP: Bearer only on `/v1`, JSON bodies
 * only, the console's login and session, the security headers.
 */
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, parseApiKeys } from '../../src/api/app.ts';
import type { Orchestrator } from '../../src/orchestrator.ts';
import { openBrowser, type TestBrowser } from '../support/browser.ts';
import { consoleSession } from '../support/console-login.ts';
import {
  ACCEPTED_CARD,
  CHALLENGE_CARD,
  EXPIRY,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';

const KEYS = 'shop:pay-secret:payments,ops:ops-secret:ops';
const PAY = { authorization: 'Bearer pay-secret' };
const OPS = { authorization: 'Bearer ops-secret' };
const card = { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' };

let h: OrchestratorHarness;
let app: FastifyInstance;
let api: string;
/** Every orchestrator method the API called, by name (see `recording`). */
const calls: string[] = [];
/** Requests the API answered, with the Origin they came with. */
const answered: { method: string; url: string; status: number; origin?: string }[] = [];
const ids = {
  review: '',
  reviewJob: '',
  challenged: '',
  authorized: '',
  subscription: '',
  plan: '',
  endpoint: '',
};

/** The object with every method call recorded in `calls` as `name.method`. */
function recording<T extends object>(name: string, target: T): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(`${name}.${String(property)}`);
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

function recordedOrchestrator(orchestrator: Orchestrator): Orchestrator {
  return {
    ...orchestrator,
    payments: recording('payments', orchestrator.payments),
    subscriptions: recording('subscriptions', orchestrator.subscriptions),
    instalmentPlans: recording('instalmentPlans', orchestrator.instalmentPlans),
    ops: recording('ops', orchestrator.ops),
    reviews: recording('reviews', orchestrator.reviews),
    merchants: recording('merchants', orchestrator.merchants),
    webhooks: {
      ...orchestrator.webhooks,
      endpoints: recording('webhooks', orchestrator.webhooks.endpoints),
    },
  };
}

async function createPayment(body: Record<string, unknown>, key: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/payments',
    headers: { ...PAY, 'idempotency-key': key },
    payload: body,
  });
  expect(response.statusCode, response.body).toBe(201);
  return (response.json() as { id: string }).id;
}

/** A payment in review, a challenged one, an authorised one, a subscription, a plan, an endpoint. */
async function seed(): Promise<void> {
  h.sim.faults.add({ match: { service: 'cardOrder' }, times: 1, type: 'corruptSeal' });
  ids.review = await createPayment({ amount: 2_500, card }, 'xs-review');
  await h.waitFor(ids.review, (p) => p.status === 'in_review');
  ids.challenged = await createPayment(
    { amount: 1_200, card: { ...card, number: CHALLENGE_CARD } },
    'xs-challenged',
  );
  await h.waitFor(ids.challenged, (p) => p.status === 'authorized' && p.challenged === true);
  ids.authorized = await createPayment(
    { amount: 3_000, card, captureMode: 'validation', captureDay: 5 },
    'xs-authorized',
  );
  await h.waitFor(ids.authorized, (p) => p.status === 'authorized');
  for (let tries = 0; tries < 200 && !ids.reviewJob; tries++) {
    const items = await h.orchestrator.reviews.list({ limit: 100 });
    ids.reviewJob = items.find((item) => item.paymentId === ids.review)?.jobId ?? '';
    if (!ids.reviewJob) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sub = await app.inject({
    method: 'POST',
    url: '/v1/subscriptions',
    headers: { ...PAY, 'idempotency-key': 'xs-sub' },
    payload: { amount: 1_990, currency: '978', interval: '30s', card },
  });
  ids.subscription = (sub.json() as { subscription: { id: string } }).subscription.id;
  const plan = await app.inject({
    method: 'POST',
    url: '/v1/instalment-plans',
    headers: { ...PAY, 'idempotency-key': 'xs-plan' },
    payload: { amount: 9_001, currency: '978', count: 3, card },
  });
  ids.plan = (plan.json() as { plan: { id: string } }).plan.id;
  const endpoint = await h.orchestrator.webhooks.endpoints.create(
    { url: 'https://hooks.shop.example/sogenactif' },
    'all',
  );
  ids.endpoint = endpoint.endpoint.id;
}

/** What the attack must leave as it is, read through the orchestrator itself. */
async function state() {
  const payment = async (id: string) => {
    const view = await h.orchestrator.payments.get(id);
    return { status: view.status, challenged: view.challenged, amounts: view.amounts };
  };
  const item = await h.orchestrator.reviews.get(ids.reviewJob);
  return {
    review: await payment(ids.review),
    reviewItem: item?.state,
    challenged: await payment(ids.challenged),
    authorized: await payment(ids.authorized),
    subscription: (await h.orchestrator.subscriptions.get(ids.subscription)).status,
    plan: (await h.orchestrator.instalmentPlans.get(ids.plan)).status,
    endpoints: await h.orchestrator.webhooks.endpoints.list('all'),
  };
}

beforeAll(async () => {
  h = await startOrchestratorHarness();
  app = buildApi({
    orchestrator: recordedOrchestrator(h.orchestrator),
    apiKeys: parseApiKeys(KEYS),
    settleTimeoutMs: 5_000,
    reloadMerchants: () => {
      calls.push('reloadMerchants');
      return h.orchestrator.merchants.list();
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    const origin = request.headers.origin;
    answered.push({
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ...(origin ? { origin } : {}),
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  api = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await seed();
}, 60_000);

afterAll(async () => {
  await app?.close();
  await h?.close();
});

/** Every `/v1` POST route of the OpenAPI document but the browser's own, with real ids. */
async function postTargets(): Promise<string[]> {
  const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  const targets = Object.entries(document.paths)
    .filter(([path, operations]) => path.startsWith('/v1/') && 'post' in operations)
    .map(([path]) => path)
    .filter((path) => !path.includes('/authentication/'));
  return targets.map((path) => {
    const payment = path.includes('/challenge/') ? ids.challenged : ids.authorized;
    const id = path.startsWith('/v1/payments/')
      ? payment
      : path.startsWith('/v1/subscriptions/')
        ? ids.subscription
        : path.startsWith('/v1/instalment-plans/')
          ? ids.plan
          : ids.endpoint;
    return path
      .replace('{jobId}', ids.reviewJob)
      .replace('{messageId}', 'msg_0_NONE')
      .replace('{id}', id);
  });
}

/** The console's own actions, which another site must not trigger either. */
function consoleTargets(): string[] {
  return [
    '/ops/janitor/runs',
    `/ops/reviews/${ids.reviewJob}/resolve`,
    `/ops/subscriptions/${ids.subscription}/cancel`,
    `/ops/instalment-plans/${ids.plan}/cancel`,
    '/ops/logout',
  ];
}

const FIELDS: Record<string, string> = {
  action: 'mark',
  status: 'captured',
  note: 'cross-site',
  amount: '3000',
  url: 'https://evil.example/hook',
  since: '2000-01-01T00:00:00Z',
};

/** The page of the other site: one form to `target`, submitted as soon as it loads. */
function formPage(target: string, kind: 'urlencoded' | 'text'): string {
  const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
  const inputs =
    kind === 'urlencoded'
      ? Object.entries(FIELDS).map(
          ([name, value]) => `<input type="hidden" name="${name}" value="${escape(value)}">`,
        )
      : // The body reads `{"action":...,"pad":"="}`: JSON sent by a form.
        [
          `<input type="hidden" name="${escape(JSON.stringify({ ...FIELDS, amount: 3000 }).slice(0, -1))},&quot;pad&quot;:&quot;" value="&quot;}">`,
        ];
  const enctype = kind === 'text' ? ' enctype="text/plain"' : '';
  return `<!DOCTYPE html><body><form id="f" method="POST" action="${escape(api + target)}"${enctype}>
${inputs.join('\n')}</form>
<script>addEventListener('load', () => setTimeout(() => document.getElementById('f').submit(), 0));</script></body>`;
}

/** The page of the other site that fires a no-CORS fetch with credentials at every target. */
function fetchPage(targets: string[]): string {
  return `<!DOCTYPE html><body><script>
const body = ${JSON.stringify(JSON.stringify({ ...FIELDS, amount: 3000 }))};
Promise.allSettled(${JSON.stringify(targets.map((target) => api + target))}.map((url) =>
  fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include', body }),
)).then(() => { document.title = 'done'; });
</script></body>`;
}

/** A site on another host (127.0.0.2: another site, not only another origin) serving `pages`. */
async function otherSite(pages: Map<string, string>): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const html = pages.get(request.url ?? '');
    response.writeHead(html ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    response.end(html ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.2:${port}`, server };
}

async function logIn(browser: TestBrowser): Promise<void> {
  const { page } = browser;
  await page.goto(`${api}/ops/reviews/${ids.reviewJob}`);
  await page.waitForURL(/\/ops\/login\?next=/);
  await page.locator('input[name="key"]').fill('ops-secret');
  await page.locator('button').click();
  await page.waitForURL(`${api}/ops/reviews/${ids.reviewJob}`);
  const cookies = await browser.context.cookies(`${api}/ops`);
  expect(cookies.map((cookie) => cookie.name)).toContain('sogenactif_ops');
}

describe('a page of another site, in the browser of a logged-in ops person', () => {
  it('changes nothing through /v1 or the console', async () => {
    const api1 = await postTargets();
    for (const route of ['/resolve', '/challenge/accept', '/janitor/runs', '/captures']) {
      expect(
        api1.some((target) => target.includes(route)),
        route,
      ).toBe(true);
    }
    const targets = [...api1, ...consoleTargets()];
    const pages = new Map<string, string>();
    targets.forEach((target, index) => {
      pages.set(`/form/${index}`, formPage(target, 'urlencoded'));
      pages.set(`/text/${index}`, formPage(target, 'text'));
    });
    pages.set('/fetch', fetchPage(targets));
    const site = await otherSite(pages);
    const browser = await openBrowser({
      httpCredentials: { username: 'ops', password: 'ops-secret' },
    });
    try {
      await logIn(browser);
      const before = await state();
      expect(before.review.status).toBe('in_review');
      expect(before.reviewItem).toBe('open');
      expect(before.challenged).toMatchObject({ status: 'authorized', challenged: true });
      calls.length = 0;
      answered.length = 0;
      const { page } = browser;
      for (const prefix of ['/form/', '/text/']) {
        for (let index = 0; index < targets.length; index++) {
          await page.goto(`${site.url}${prefix}${index}`);
          await page.waitForURL((url) => url.origin === api);
          await page.waitForLoadState();
        }
      }
      await page.goto(`${site.url}/fetch`);
      await page.waitForFunction("document.title === 'done'");

      // Every target was reached, from the other site, and refused.
      for (const target of targets) {
        const hits = answered.filter((entry) => entry.url === target);
        expect(hits.length, target).toBeGreaterThanOrEqual(3);
        for (const hit of hits) {
          expect(hit.origin, target).toBe(site.url);
          expect([401, 403, 415], `${target}: ${hit.status}`).toContain(hit.status);
        }
      }
      expect(calls).toEqual([]);
      expect(await state()).toEqual(before);
      // The session survived the forged logout, and still works on the console's own pages.
      await page.goto(`${api}/ops`);
      expect(page.url()).toBe(`${api}/ops`);
    } finally {
      await browser.close();
      await new Promise((resolve) => site.server.close(resolve));
    }
    // The same janitor route runs for a Bearer key: the recording does see calls.
    const run = await app.inject({ method: 'POST', url: '/v1/janitor/runs', headers: OPS });
    expect(run.statusCode).toBe(200);
    expect(calls).toContain('ops.runJanitor');
  }, 120_000);

  it('renders Swagger UI and Bull Board under their security policies', async () => {
    const browser = await openBrowser();
    const violations: string[] = [];
    browser.page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    try {
      await logIn(browser);
      const { page } = browser;
      await page.goto(`${api}/docs/`);
      await page.locator('.swagger-ui .info').waitFor();
      await page.goto(`${api}/ops/queues`);
      // Bull Board's script replaces the loading placeholder once it runs.
      await page.getByText('Loading', { exact: true }).waitFor({ state: 'detached' });
      expect(await page.locator('#root').innerHTML()).not.toBe('');
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('over HTTP', () => {
  const post = (url: string, headers: Record<string, string>, payload?: string) =>
    app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) });

  it('takes only Bearer keys on /v1, never Basic or the console session', async () => {
    const session = await consoleSession(app);
    const basic = `Basic ${Buffer.from('ops:ops-secret').toString('base64')}`;
    for (const headers of [{ authorization: basic }, session, {}]) {
      for (const url of ['/v1/janitor/runs', `/v1/reviews/${ids.reviewJob}/resolve`]) {
        const response = await post(url, { ...headers, 'content-type': 'application/json' }, '{}');
        expect(response.statusCode, url).toBe(401);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.headers['www-authenticate']).toBe('Bearer realm="sogenactif"');
        expect(response.json().detail).toContain('Bearer');
      }
    }
    const viaBasic = await post('/v1/janitor/runs', { authorization: basic });
    expect(viaBasic.json().detail).toContain('HTTP Basic is not accepted');
  });

  it('reads only JSON bodies on /v1 (415 otherwise) and forms on the browser endpoints', async () => {
    const challenge = `/v1/payments/${ids.challenged}/challenge/accept`;
    for (const [type, payload] of [
      ['application/x-www-form-urlencoded', 'action=mark&status=captured&note=x'],
      ['application/x-www-form-urlencoded', ''],
      ['text/plain', '{"action":"mark","status":"captured","note":"x"}'],
      ['multipart/form-data; boundary=x', '--x--'],
      ['application/problem+json', '{}'],
      [undefined, '{"action":"mark","status":"captured","note":"x"}'],
    ] as const) {
      for (const url of [`/v1/reviews/${ids.reviewJob}/resolve`, challenge, '/v1/janitor/runs']) {
        const headers: Record<string, string> = { ...(url === challenge ? PAY : OPS) };
        if (type) headers['content-type'] = type;
        const response = await post(url, headers, payload);
        expect(response.statusCode, `${url} ${type}`).toBe(415);
        expect(response.json().code).toBe('unsupported_media_type');
      }
    }
    const patch = await app.inject({
      method: 'PATCH',
      url: `/v1/subscriptions/${ids.subscription}`,
      headers: { ...PAY, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'amount=1',
    });
    expect(patch.statusCode).toBe(415);
    expect((await state()).review.status).toBe('in_review');
    // A body-less command needs no content type.
    expect((await post('/v1/janitor/runs', OPS)).statusCode).toBe(200);
    // The ACS posts its answer as a form: read, and refused for its content only.
    const term = await post(
      `/v1/payments/${ids.authorized}/authentication/term`,
      { 'content-type': 'application/x-www-form-urlencoded' },
      'PaRes=abc&MD=pay_0_OTHER',
    );
    expect(term.statusCode).toBe(400);
    expect(term.json()).toMatchObject({ code: 'invalid_command', field: 'MD' });
  });

  it('sends a browser without a session to the login form; refuses actions and wrong keys', async () => {
    const page = await app.inject({ method: 'GET', url: `/ops/payments/${ids.review}` });
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe(
      `/ops/login?next=${encodeURIComponent(`/ops/payments/${ids.review}`)}`,
    );
    for (const url of ['/ops/janitor/runs', '/ops/logout']) {
      const headers = { ...OPS, 'content-type': 'application/x-www-form-urlencoded' };
      const response = await post(url, headers, 'formToken=x');
      expect(response.statusCode, url).toBe(401);
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
    expect((await app.inject({ method: 'GET', url: '/ops/queues', headers: OPS })).statusCode).toBe(
      303,
    );
    const board = await app.inject({
      method: 'PUT',
      url: '/ops/queues/api/queues/pause',
      headers: OPS,
    });
    expect(board.statusCode).toBe(401);
    const login = (key: string, extra: Record<string, string> = {}) =>
      post(
        '/ops/login',
        { 'content-type': 'application/x-www-form-urlencoded', ...extra },
        new URLSearchParams({ key, next: '/ops/janitor' }).toString(),
      );
    for (const [key, status] of [
      ['wrong', 401],
      ['', 401],
      ['pay-secret', 403],
    ] as const) {
      const refused = await login(key);
      expect(refused.statusCode, key).toBe(status);
      expect(refused.headers['set-cookie']).toBeUndefined();
      expect(refused.body).toContain('name="key"');
    }
    const crossSite = await login('ops-secret', { origin: 'https://evil.example' });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.headers['set-cookie']).toBeUndefined();
    const open = await login('ops-secret');
    expect(open.statusCode).toBe(303);
    expect(open.headers.location).toBe('/ops/janitor');
    const cookie = String(open.headers['set-cookie']);
    expect(cookie).toMatch(/^sogenactif_ops=[A-Za-z0-9_-]{43};/);
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/ops', 'Max-Age=28800']) {
      expect(cookie).toContain(attribute);
    }
    expect(cookie).not.toContain('Secure');
    // Never sent on to another site after logging in.
    const offsite = await post(
      '/ops/login',
      { 'content-type': 'application/x-www-form-urlencoded' },
      new URLSearchParams({ key: 'ops-secret', next: '//evil.example/x' }).toString(),
    );
    expect(offsite.headers.location).toBe('/ops');
  });

  it('ends the session on logout, with the form token only', async () => {
    const session = await consoleSession(app);
    const form = await app.inject({ method: 'GET', url: '/ops/logout', headers: session });
    const token = /name="formToken" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
    const headers = { ...session, 'content-type': 'application/x-www-form-urlencoded' };
    expect((await post('/ops/logout', headers, 'formToken=wrong')).statusCode).toBe(403);
    const out = await post('/ops/logout', headers, `formToken=${token}`);
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/ops/login');
    expect(String(out.headers['set-cookie'])).toContain('sogenactif_ops=;');
    expect((await app.inject({ method: 'GET', url: '/ops', headers: session })).statusCode).toBe(
      303,
    );
  });

  it('sets Secure on the session cookie when the public URL is https', async () => {
    const secure = buildApi({
      orchestrator: h.orchestrator,
      apiKeys: parseApiKeys(KEYS),
      publicUrl: 'https://pay.shop.example',
    });
    try {
      const open = await secure.inject({
        method: 'POST',
        url: '/ops/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'key=ops-secret',
      });
      expect(String(open.headers['set-cookie'])).toContain('Secure');
      expect(open.headers['strict-transport-security']).toContain('max-age=');
    } finally {
      await secure.close();
    }
  });

  it('sends the security headers on the API, the console, the docs and Bull Board', async () => {
    const session = await consoleSession(app);
    for (const [url, headers] of [
      [`/v1/payments/${ids.review}`, PAY],
      ['/v1/nowhere', {}],
      ['/ops', session],
      ['/ops/login', {}],
      ['/ops/queues', session],
      ['/docs/', {}],
      [`/v1/payments/${ids.review}/authentication`, {}],
    ] as const) {
      const response = await app.inject({ method: 'GET', url, headers });
      expect(response.statusCode, url).toBeLessThan(500);
      const csp = String(response.headers['content-security-policy']);
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(csp, url).toMatch(/default-src '(self|none)'/);
      expect(response.headers['x-frame-options'], url).toBe('DENY');
      expect(response.headers['x-content-type-options'], url).toBe('nosniff');
      expect(response.headers['referrer-policy'], url).toMatch(/same-origin|strict-origin/);
      expect(response.headers['strict-transport-security'], url).toBeUndefined();
    }
    const console = await app.inject({ method: 'GET', url: '/ops', headers: session });
    const csp = String(console.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(console.headers['referrer-policy']).toBe('same-origin');
  });
});
