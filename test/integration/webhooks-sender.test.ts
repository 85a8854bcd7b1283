/**
 * The webhook sender against real HTTP receivers on loopback: delivery with
 * the headers the receiver needs, refusals of loopback destinations (literal
 * IPs and names) when private addresses are not allowed, redirects returned
 * and never followed, bounded answers (size and time), connect timeouts,
 * refused connections and keep-alive reuse.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server,
} from 'node:http';
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/platform/redis-server.ts';
import type { Resolver } from '../../src/webhooks/address-guard.ts';
import {
  createWebhookSender,
  WEBHOOK_USER_AGENT,
  type WebhookSender,
  type WebhookSenderOptions,
} from '../../src/webhooks/http-sender.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  port: number;
  received: Received[];
  connections: number;
  /** Connections closed so far. */
  closed: number;
}

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function listen(server: Server, host: string, port = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An HTTP receiver that records each request, its body read, before `answer` runs. */
async function startReceiver(answer: RequestListener, host = '127.0.0.1'): Promise<Receiver> {
  const server = createServer();
  const receiver: Receiver = { port: 0, received: [], connections: 0, closed: 0 };
  server.on('connection', (socket: Socket) => {
    receiver.connections++;
    socket.on('close', () => receiver.closed++);
  });
  server.on('request', (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      receiver.received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.on('error', () => undefined);
      answer(request, response);
    });
  });
  await listen(server, host);
  receiver.port = (server.address() as AddressInfo).port;
  cleanups.push(() => closeServer(server));
  return receiver;
}

const ok: RequestListener = (_request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain' }).end('received');
};

/** Nothing answers: the request is read and left waiting. */
const silent: RequestListener = () => undefined;

function sender(options: Partial<WebhookSenderOptions> = {}): WebhookSender {
  const created = createWebhookSender({
    policy: { allowPrivateAddresses: true, allowHttp: true },
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

const strict = { policy: { allowPrivateAddresses: false, allowHttp: true } };

const SIGNATURE = 'v1,c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ==';
const webhook = (url: string) => ({
  url,
  headers: {
    'webhook-id': 'msg_1',
    'webhook-timestamp': '1767225600',
    'webhook-signature': SIGNATURE,
  },
  body: JSON.stringify({ type: 'payment.captured', data: { amount: 2_500, label: 'café' } }),
});

async function ipv6LoopbackAvailable(): Promise<boolean> {
  const probe = createServer();
  try {
    await listen(probe, '::1');
    await closeServer(probe);
    return true;
  } catch {
    return false;
  }
}
const IPV6 = await ipv6LoopbackAvailable();

describe('delivery', () => {
  it('POSTs the body with its headers, JSON content type and our user agent', async () => {
    const receiver = await startReceiver(ok);
    const post = webhook(`http://127.0.0.1:${receiver.port}/hooks?merchant=m1`);
    const result = await sender().post(post);
    expect(result).toMatchObject({
      kind: 'answered',
      status: 200,
      body: 'received',
      truncated: false,
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(receiver.received).toHaveLength(1);
    const [received] = receiver.received;
    expect(received).toMatchObject({ method: 'POST', url: '/hooks?merchant=m1', body: post.body });
    expect(received?.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(post.body)),
      'user-agent': WEBHOOK_USER_AGENT,
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1767225600',
      'webhook-signature': SIGNATURE,
    });
  });

  it('delivers to a name, resolved by the resolver given', async () => {
    const receiver = await startReceiver(ok);
    const resolve = fakeResolver({ 'receiver.example': [{ address: '127.0.0.1', family: 4 }] });
    const result = await sender({ resolve }).post(
      webhook(`http://receiver.example:${receiver.port}/`),
    );
    expect(result).toMatchObject({ kind: 'answered', status: 200 });
    expect(receiver.received[0]?.headers.host).toBe(`receiver.example:${receiver.port}`);
  });

  it('reuses a kept-alive connection for the next post, already connected', async () => {
    // Answers slower than the connect timeout: a reused socket is connected
    // already, and waiting for its 'connect' would end in a connect timeout.
    const receiver = await startReceiver((request, response) => {
      setTimeout(() => ok(request, response), 300);
    });
    const webhooks = sender({ connectTimeoutMs: 150 });
    const url = `http://127.0.0.1:${receiver.port}/`;
    expect(await webhooks.post(webhook(url))).toMatchObject({ kind: 'answered', status: 200 });
    expect(await webhooks.post(webhook(url))).toMatchObject({ kind: 'answered', status: 200 });
    expect(receiver.received).toHaveLength(2);
    expect(receiver.connections).toBe(1);
  });

  it('returns a redirect as the answer and never follows it', async () => {
    const receiver = await startReceiver((request, response) => {
      if (request.url === '/') response.writeHead(302, { location: '/moved' }).end('moved');
      else ok(request, response);
    });
    const result = await sender().post(webhook(`http://127.0.0.1:${receiver.port}/`));
    expect(result).toMatchObject({ kind: 'answered', status: 302, body: 'moved' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received.map(({ url }) => url)).toEqual(['/']);
  });
});

describe('refused destinations', () => {
  const refusedUrls = (port: number) => [
    `http://127.0.0.1:${port}/`,
    `http://localhost:${port}/`,
    `http://2130706433:${port}/`,
    `http://[::1]:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
  ];

  it('refuses loopback destinations, literal or named, when private addresses are not allowed', async () => {
    const receiver = await startReceiver(ok);
    const webhooks = sender(strict);
    for (const url of refusedUrls(receiver.port)) {
      const result = await webhooks.post(webhook(url));
      expect(result, url).toMatchObject({ kind: 'failed', reason: 'address_not_allowed' });
      expect(result.kind === 'failed' && result.message, url).toMatch(
        /private or loopback address \((127\.0\.0\.1|::1|::ffff:7f00:1)\)/,
      );
      expect(JSON.stringify(result)).not.toContain(SIGNATURE);
    }
    expect(receiver.connections).toBe(0);
  });

  it('refuses a name that resolves to a private address at connect time', async () => {
    const resolve = fakeResolver({ 'rebound.example': [{ address: '10.0.0.1', family: 4 }] });
    const result = await sender({ ...strict, resolve }).post(webhook('http://rebound.example/'));
    expect(result).toMatchObject({
      kind: 'failed',
      reason: 'address_not_allowed',
      message: 'rebound.example resolves to a private or loopback address (10.0.0.1)',
    });
  });

  it.skipIf(!IPV6)(
    'delivers to [::1] when private addresses are allowed (skipped without IPv6 loopback)',
    async () => {
      const receiver = await startReceiver(ok, '::1');
      const url = `http://[::1]:${receiver.port}/`;
      expect(await sender().post(webhook(url))).toMatchObject({ kind: 'answered', status: 200 });
      expect(await sender(strict).post(webhook(url))).toMatchObject({
        kind: 'failed',
        reason: 'address_not_allowed',
      });
      expect(receiver.received).toHaveLength(1);
    },
  );

  it('refuses URLs that are not http(s), or http when only https is allowed', async () => {
    const webhooks = sender({ policy: { allowPrivateAddresses: true, allowHttp: false } });
    expect(await webhooks.post(webhook('ftp://example.com/'))).toMatchObject({
      kind: 'failed',
      reason: 'invalid_url',
      message: 'the endpoint URL must be an absolute http(s) URL',
    });
    expect(await webhooks.post(webhook('http://127.0.0.1:1/'))).toMatchObject({
      kind: 'failed',
      reason: 'invalid_url',
      message: 'the endpoint URL must use https',
    });
  });
});

describe('bounded answers', () => {
  it('keeps maxResponseBytes of a long body, on a character boundary', async () => {
    const receiver = await startReceiver((request, response) => {
      response.end(request.url === '/ascii' ? 'x'.repeat(10_000) : 'é'.repeat(1_000));
    });
    const webhooks = sender({ maxResponseBytes: 101 });
    const ascii = await webhooks.post(webhook(`http://127.0.0.1:${receiver.port}/ascii`));
    expect(ascii).toMatchObject({ kind: 'answered', status: 200, truncated: true });
    expect(ascii.kind === 'answered' && ascii.body).toBe('x'.repeat(101));
    const accented = await webhooks.post(webhook(`http://127.0.0.1:${receiver.port}/accented`));
    expect(accented).toMatchObject({ kind: 'answered', truncated: true, body: 'é'.repeat(50) });
  });

  it('cuts the connection of an answer past 64 KiB', async () => {
    const receiver = await startReceiver((_request, response) => {
      response.writeHead(200);
      const chunk = 'y'.repeat(16 * 1024);
      const write = (left: number): void => {
        if (left === 0 || response.destroyed) return void response.end();
        if (response.write(chunk)) write(left - 1);
        else response.once('drain', () => write(left - 1));
      };
      write(4 * 1024); // 64 MiB if nobody stops it
    });
    const result = await sender({ maxResponseBytes: 10 }).post(
      webhook(`http://127.0.0.1:${receiver.port}/`),
    );
    expect(result).toMatchObject({
      kind: 'answered',
      status: 200,
      truncated: true,
      body: 'y'.repeat(10),
    });
    await expect.poll(() => receiver.closed).toBe(1);
  });

  it('gives up on an answer that does not come within responseTimeoutMs', async () => {
    const receiver = await startReceiver(silent);
    const result = await sender({ responseTimeoutMs: 300 }).post(
      webhook(`http://127.0.0.1:${receiver.port}/`),
    );
    expect(result).toMatchObject({
      kind: 'failed',
      reason: 'response_timeout',
      message: 'no complete answer within 300 ms',
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(250);
    expect(result.durationMs).toBeLessThan(2_000);
    expect(receiver.received).toHaveLength(1);
  });

  it('gives up on a body that stops halfway, within responseTimeoutMs', async () => {
    const receiver = await startReceiver((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('half');
    });
    const result = await sender({ responseTimeoutMs: 300 }).post(
      webhook(`http://127.0.0.1:${receiver.port}/`),
    );
    expect(result).toMatchObject({ kind: 'failed', reason: 'response_timeout' });
  });
});

describe('connection failures', () => {
  it('reports a refused connection', async () => {
    const port = await findFreePort();
    const result = await sender().post(webhook(`http://127.0.0.1:${port}/`));
    expect(result).toMatchObject({
      kind: 'failed',
      reason: 'connection_error',
      message: `connection refused to 127.0.0.1:${port} (ECONNREFUSED)`,
    });
  });

  it('reports a connection closed before the answer is complete', async () => {
    const receiver = await startReceiver((_request, response) => {
      response.writeHead(200, { 'content-length': '100' });
      response.write('half', () => response.destroy());
    });
    const result = await sender().post(webhook(`http://127.0.0.1:${receiver.port}/`));
    expect(result).toMatchObject({ kind: 'failed', reason: 'connection_error' });
    expect(JSON.stringify(result)).not.toContain(SIGNATURE);
  });

  it('reports a connection closed without an answer', async () => {
    const receiver = await startReceiver((request) => request.socket.destroy());
    const result = await sender().post(webhook(`http://127.0.0.1:${receiver.port}/`));
    expect(result).toMatchObject({
      kind: 'failed',
      reason: 'connection_error',
      message: 'connection reset (ECONNRESET)',
    });
  });

  it('gives up on a connection not made within connectTimeoutMs (a resolver that never answers)', async () => {
    const resolve = (() => undefined) as unknown as Resolver;
    const result = await sender({ connectTimeoutMs: 200, resolve }).post(
      webhook('http://stuck.example/'),
    );
    expect(result).toMatchObject({
      kind: 'failed',
      reason: 'connect_timeout',
      message: 'no connection within 200 ms',
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(150);
  });

  it('fails the posts in flight when closed', async () => {
    const receiver = await startReceiver(silent);
    const webhooks = sender();
    const pending = webhooks.post(webhook(`http://127.0.0.1:${receiver.port}/`));
    await expect.poll(() => receiver.received.length).toBe(1);
    webhooks.close();
    expect(await pending).toMatchObject({ kind: 'failed', reason: 'connection_error' });
  });
});

/** A resolver that knows a few names, answering like dns.lookup. */
function fakeResolver(table: Record<string, LookupAddress[]>): Resolver {
  const resolve = (
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
  ): void => {
    const addresses = (table[hostname] ?? []).filter(
      ({ family }) => !options.family || family === options.family,
    );
    setImmediate(() => {
      if (addresses.length > 0) callback(null, addresses);
      else callback(Object.assign(new Error(`${hostname} not found`), { code: 'ENOTFOUND' }), []);
    });
  };
  return resolve as unknown as Resolver;
}
