/**
 * Test support for the simulator: a running simulator on a free port, the
 * real Sips client pointed at it (seed recette shop), a raw sealed-POST
 * helper for requests the client refuses to build (missing fields, wrong
 * formats, bad seals), HTML form helpers for the ACS pages, and a small
 * merchant site that receives the browser's return POSTs (TermUrl,
 * merchantReturnUrl).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { createManualClock, type ManualClock } from '../../src/platform/clock.ts';
import { createUndiciTransport, type HttpTransport } from '../../src/platform/http.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import {
  createSipsClient,
  type SipsClient,
  type SipsClientOptions,
} from '../../src/sips/client.ts';
import {
  SEED_TEST_KEY_VERSION,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
} from '../../src/sips/environments.ts';
import { computeSeal, verifySeal, type SealAlgorithm } from '../../src/sips/seal.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { interfaceVersionFor, servicePath, type SipsServiceName } from '../../src/sips/services.ts';
import {
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/simulator/index.ts';

export const MERCHANT_ID = SEED_TEST_MERCHANT_ID;
export const KEY = new SecretKey(SEED_TEST_SECRET_KEY);
export const KEY_VERSION = SEED_TEST_KEY_VERSION;

/** A card expiry date safely in the future of the test clock. */
export const EXPIRY = '203012';

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
  /** The JSON body, when it is one. */
  body: Record<string, unknown>;
  /** The answer's seal verifies with the shop key. */
  sealValid: boolean;
}

export interface RawOptions {
  merchantId?: string;
  key?: SecretKey;
  keyVersion?: string;
  interfaceVersion?: string;
  sealAlgorithm?: SealAlgorithm;
  /** Send exactly these fields, no envelope added, no seal computed. */
  bare?: boolean;
  timeoutMs?: number;
}

export interface Harness {
  sim: RunningSimulator;
  clock: ManualClock;
  /** The Sips client for the seed recette shop. */
  client: SipsClient;
  clientWith(overrides: Partial<SipsClientOptions>): SipsClient;
  /** A sealed JSON POST built by hand. */
  raw(
    service: SipsServiceName,
    fields: Record<string, unknown>,
    options?: RawOptions,
  ): Promise<RawAnswer>;
  /** Any POST to the simulator. */
  post(
    path: string,
    body: string,
    headers?: Record<string, string>,
    timeoutMs?: number,
  ): Promise<{ status: number; contentType: string; text: string }>;
  /** A control endpoint call (`/_control/...`): status and JSON body. */
  control(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** An HTML form POST (application/x-www-form-urlencoded) to an absolute URL. */
  form(url: string, fields: Record<string, string>): Promise<{ status: number; text: string }>;
  close(): Promise<void>;
}

export async function startHarness(options: SimulatorOptions = {}): Promise<Harness> {
  const clock = createManualClock(Date.UTC(2026, 0, 15, 10, 0, 0));
  const sim = await startSimulator({ clock, ...options });
  const agent = new Agent({ keepAliveTimeout: 1_000 });
  const transports: HttpTransport[] = [];

  const clientWith = (overrides: Partial<SipsClientOptions>) => {
    const http = createUndiciTransport({ keepAliveTimeoutMs: 1_000 });
    transports.push(http);
    return createSipsClient({
      baseUrl: sim.url,
      merchantId: MERCHANT_ID,
      secretKey: KEY,
      keyVersion: KEY_VERSION,
      http,
      clock,
      logger: silentLogger(),
      timeoutMs: 5_000,
      ...overrides,
    });
  };

  async function post(
    path: string,
    body: string,
    headers: Record<string, string> = { 'content-type': 'application/json' },
    timeoutMs = 5_000,
  ) {
    const response = await request(`${sim.url}${path}`, {
      method: 'POST',
      body,
      headers,
      dispatcher: agent,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const contentType = response.headers['content-type'];
    return {
      status: response.statusCode,
      contentType: Array.isArray(contentType) ? (contentType[0] ?? '') : (contentType ?? ''),
      text: await response.body.text(),
    };
  }

  async function raw(
    service: SipsServiceName,
    fields: Record<string, unknown>,
    rawOptions: RawOptions = {},
  ): Promise<RawAnswer> {
    let message: Record<string, unknown> = fields;
    if (!rawOptions.bare) {
      message = {
        interfaceVersion: rawOptions.interfaceVersion ?? interfaceVersionFor(service),
        merchantId: rawOptions.merchantId ?? MERCHANT_ID,
        keyVersion: rawOptions.keyVersion ?? KEY_VERSION,
        ...fields,
      };
      if (rawOptions.sealAlgorithm) message.sealAlgorithm = rawOptions.sealAlgorithm;
      message.seal = computeSeal(message, rawOptions.key ?? KEY, rawOptions.sealAlgorithm);
    }
    const answer = await post(
      servicePath(service),
      JSON.stringify(message),
      undefined,
      rawOptions.timeoutMs,
    );
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(answer.text) as Record<string, unknown>;
    } catch {
      body = {};
    }
    return { ...answer, body, sealValid: verifySeal(body, rawOptions.key ?? KEY).valid };
  }

  async function form(url: string, fields: Record<string, string>) {
    const response = await request(url, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      dispatcher: agent,
      signal: AbortSignal.timeout(5_000),
    });
    return { status: response.statusCode, text: await response.body.text() };
  }

  async function control(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) {
    const response = await request(`${sim.url}/_control/${path}`, {
      method,
      dispatcher: agent,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.body.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { text };
    }
    return { status: response.statusCode, body: parsed };
  }

  return {
    sim,
    clock,
    client: clientWith({}),
    clientWith,
    raw,
    post,
    control,
    form,
    async close() {
      await Promise.all(transports.map((transport) => transport.close()));
      await agent.close();
      await sim.close();
    },
  };
}

export interface ParsedForm {
  action: string;
  fields: Record<string, string>;
  /** Values of the submit buttons named `outcome`. */
  outcomes: string[];
}

function unescapeHtml(value: string): string {
  return value
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

/** The first form of a page: where it posts and its hidden fields. */
export function parseHtmlForm(html: string): ParsedForm {
  const action = /<form[^>]*action="([^"]*)"/i.exec(html)?.[1];
  if (action === undefined) throw new Error(`no form in page:\n${html}`);
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields[unescapeHtml(match[1] ?? '')] = unescapeHtml(match[2] ?? '');
  }
  const outcomes = [...html.matchAll(/<button type="submit" name="outcome" value="([^"]*)"/g)].map(
    (match) => unescapeHtml(match[1] ?? ''),
  );
  return { action: unescapeHtml(action), fields, outcomes };
}

/** A merchant site: records the form POSTs the browser makes to it (TermUrl, merchantReturnUrl). */
export interface MerchantSite {
  url: string;
  /** Serves this HTML at GET `path`. */
  page(path: string, html: string): void;
  /** Resolves with the fields of the next POST to `path` (or the one already received). */
  nextPost(path: string): Promise<Record<string, string>>;
  posts(path: string): Record<string, string>[];
  close(): Promise<void>;
}

export async function startMerchantSite(): Promise<MerchantSite> {
  const pages = new Map<string, string>();
  const received = new Map<string, Record<string, string>[]>();
  const waiters = new Map<string, ((fields: Record<string, string>) => void)[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://merchant').pathname;
      if (req.method === 'GET') {
        const html = pages.get(path);
        res.writeHead(html ? 200 : 404, { 'content-type': 'text/html' });
        res.end(html ?? 'not found');
        return;
      }
      const fields = Object.fromEntries(
        new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
      );
      const list = received.get(path) ?? [];
      list.push(fields);
      received.set(path, list);
      const waiting = waiters.get(path)?.shift();
      waiting?.(fields);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body><h1 id="done">Thank you, payment received</h1></body></html>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    page: (path, html) => pages.set(path, html),
    nextPost(path) {
      const already = received.get(path)?.[0];
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => {
        const list = waiters.get(path) ?? [];
        list.push(resolve);
        waiters.set(path, list);
      });
    },
    posts: (path) => received.get(path) ?? [],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The answer of a call Sips answered with a verified seal; fails the test otherwise. */
export function answered(result: {
  kind: string;
  response?: unknown;
  detail?: unknown;
}): Record<string, unknown> {
  if (result.kind === 'unknown' || result.kind === 'seal_mismatch') {
    throw new Error(`expected an answer, got ${result.kind}: ${JSON.stringify(result)}`);
  }
  return result.response as Record<string, unknown>;
}
