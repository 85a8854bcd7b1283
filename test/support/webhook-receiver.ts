/**
 * A merchant's webhook receiver on 127.0.0.1, port 0: it verifies every
 * request with the `standardwebhooks` library (as a merchant would) against
 * the secrets it holds, keeps what arrived, and answers what the test says.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import type { WebhookOptions } from '../../src/webhooks/options.ts';

/**
 * Webhook delivery as tests run it: to receivers on this machine over http,
 * retried within a second, events read and taken over quickly.
 */
export function localWebhooks(changes: Partial<WebhookOptions> = {}): WebhookOptions {
  return {
    policy: { allowPrivateAddresses: true, allowHttp: true },
    retryScheduleMs: [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
    claimIdleMs: 1_000,
    blockMs: 200,
    ...changes,
  };
}

export interface ReceivedRequest {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  headers: IncomingHttpHeaders;
  /** The secrets (by index in `secrets`) whose signature verified. */
  verifiedWith: number[];
  answered: number;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedRequest[];
  /** Secrets the receiver verifies with; replace to follow a rotation. */
  secrets: string[];
  /** The status the next requests get (default 204). */
  answer(status: number | ((request: ReceivedRequest) => number)): void;
  /** Answers this many ms late. */
  latencyMs: number;
  /** Distinct `webhook-id`s answered 2xx. */
  delivered(): Set<string>;
  close(): Promise<void>;
}

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

export async function startWebhookReceiver(secrets: string[] = []): Promise<WebhookReceiver> {
  let decide: (request: ReceivedRequest) => number = () => 204;
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    secrets,
    latencyMs: 0,
    answer(status) {
      decide = typeof status === 'number' ? () => status : status;
    },
    delivered() {
      return new Set(
        receiver.received.filter((r) => r.answered >= 200 && r.answered < 300).map((r) => r.id),
      );
    },
    close: async () => undefined,
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = request.headers;
      const verifiedWith = receiver.secrets.flatMap((secret, index) => {
        try {
          new Webhook(secret).verify(body, {
            'webhook-id': header(headers, 'webhook-id'),
            'webhook-timestamp': header(headers, 'webhook-timestamp'),
            'webhook-signature': header(headers, 'webhook-signature'),
          });
          return [index];
        } catch {
          return [];
        }
      });
      const entry: ReceivedRequest = {
        id: header(headers, 'webhook-id'),
        timestamp: header(headers, 'webhook-timestamp'),
        signature: header(headers, 'webhook-signature'),
        body,
        headers,
        verifiedWith,
        answered: 0,
        at: Date.now(),
      };
      entry.answered = decide(entry);
      receiver.received.push(entry);
      const reply = () => response.writeHead(entry.answered).end(entry.answered < 300 ? '' : 'no');
      if (receiver.latencyMs > 0) setTimeout(reply, receiver.latencyMs);
      else reply();
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('the receiver has no port');
  receiver.url = `http://127.0.0.1:${address.port}/hooks`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}
