/**
 * A merchant's webhook receiver as a benchmark child process (its own CPU
 * and event loop, so neither its work nor its waiting is charged to the
 * pipeline): a node:http server on BENCH_RECEIVER_PORTS ports of 127.0.0.1
 * (one per endpoint, so each endpoint is an origin of its own, as two
 * merchants' servers would be), answering every POST with 204 after
 * BENCH_RECEIVER_DELAY_MS (default 0: at once). It does not verify
 * signatures: it stands for the network peer, not for the merchant's code.
 *
 * It prints `{"ready":true,"urls":[…]}` on stdout once it listens. On stdin:
 * - `stats`: answered with one line `{"stats":{…}}`: requests received,
 *   deliveries (distinct `webhook-id` per port answered 2xx), duplicates,
 *   deliveries per endpoint, the first and last arrival and the last answer
 *   (ms since the epoch), and per delivery the arrival time minus the
 *   event's `time` (ms);
 * - `reset`: forgets everything counted (answered `{"reset":true}`).
 *
 * It exits when stdin closes, so it never outlives the benchmark.
 */
import { createServer, type Server } from 'node:http';
import { createInterface } from 'node:readline';

const delayMs = Number(process.env.BENCH_RECEIVER_DELAY_MS ?? '0');
const portCount = Number(process.env.BENCH_RECEIVER_PORTS ?? '1');

interface Counts {
  requests: number;
  duplicates: number;
  /** `<endpoint index> <webhook-id>` of every delivery. */
  delivered: Set<string>;
  byEndpoint: number[];
  firstArrivalAt: number;
  lastArrivalAt: number;
  lastAnsweredAt: number;
  /** Arrival minus the event's `time`, per delivery. */
  latenciesMs: number[];
}

const fresh = (): Counts => ({
  requests: 0,
  duplicates: 0,
  delivered: new Set(),
  byEndpoint: Array.from({ length: portCount }, () => 0),
  firstArrivalAt: Number.NaN,
  lastArrivalAt: Number.NaN,
  lastAnsweredAt: Number.NaN,
  latenciesMs: [],
});

let counts = fresh();

/** The event's `time` in ms, or NaN when the body is not a CloudEvent. */
function eventTime(body: string): number {
  try {
    const time = (JSON.parse(body) as { time?: unknown }).time;
    return typeof time === 'string' ? Date.parse(time) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function serve(endpoint: number): Server {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const arrivedAt = Date.now();
      const header = request.headers['webhook-id'];
      const id = Array.isArray(header) ? (header[0] ?? '') : (header ?? '');
      const body = Buffer.concat(chunks).toString('utf8');
      const run = counts;
      run.requests += 1;
      if (Number.isNaN(run.firstArrivalAt)) run.firstArrivalAt = arrivedAt;
      run.lastArrivalAt = arrivedAt;
      const reply = () => {
        response.writeHead(204).end();
        // A reset in between: the answer belongs to the counts before it.
        if (run !== counts) return;
        run.lastAnsweredAt = Date.now();
        const key = `${endpoint} ${id}`;
        if (run.delivered.has(key)) {
          run.duplicates += 1;
          return;
        }
        run.delivered.add(key);
        run.byEndpoint[endpoint] = (run.byEndpoint[endpoint] ?? 0) + 1;
        run.latenciesMs.push(arrivedAt - eventTime(body));
      };
      if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    });
  });
  // Longer than any pause of a run: the sender's pooled sockets stay usable.
  server.keepAliveTimeout = 60_000;
  return server;
}

const servers = Array.from({ length: portCount }, (_, endpoint) => serve(endpoint));
const urls = await Promise.all(
  servers.map(
    (server, endpoint) =>
      new Promise<string>((resolveUrl) => {
        server.listen(0, '127.0.0.1', () => {
          const address = server.address();
          const port = typeof address === 'object' && address ? address.port : 0;
          resolveUrl(`http://127.0.0.1:${port}/webhooks/${endpoint + 1}`);
        });
      }),
  ),
);

process.stdout.write(`${JSON.stringify({ ready: true, urls, delayMs })}\n`);

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const command = line.trim();
  if (command === 'reset') {
    counts = fresh();
    process.stdout.write(`${JSON.stringify({ reset: true })}\n`);
  } else if (command === 'stats') {
    const { delivered, ...rest } = counts;
    process.stdout.write(`${JSON.stringify({ stats: { ...rest, deliveries: delivered.size } })}\n`);
  }
});
input.on('close', () => {
  for (const server of servers) server.closeAllConnections();
  process.exit(0);
});
process.once('SIGTERM', () => process.exit(0));
