/**
 * `npm run demo`: runs a service of its own (API, workers, embedded simulator
 * with control endpoints) under the key prefix `demo` (DEMO_KEY_PREFIX) and
 * sends it a realistic mix through the typed client: accepted, refused, 3-D
 * Secure through the simulator's ACS, 90 then accepted, a seal mismatch sent
 * to review, a capture and a partial refund, a deferred capture, a
 * subscription and an instalment plan. At its end, on an error or on Ctrl-C
 * it stops the service and removes everything it wrote: its BullMQ queues
 * are obliterated and every key under its prefix deleted (SCAN on every
 * master of a cluster); what a killed run left is removed at the next start.
 * Redis: REDIS_URL or REDIS_CLUSTER_NODES (and SHARDS), else 127.0.0.1:6379
 * when it answers, else a redis-server of its own that keeps nothing; no
 * other variable is read. DEMO_HOLD=1 keeps the service up after the last
 * payment until Ctrl-C; DEMO_LOG_LEVEL (error) is its log level.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Cluster } from 'ioredis';
import { Queue } from 'bullmq';
import { request } from 'undici';
import {
  createClient,
  type CreatePayment,
  type Payment,
  type PaymentStatus,
} from '../clients/typescript/src/index.ts';
import { IN_FLIGHT_STATUSES } from '../machines/model.ts';
import { buildApi, parseApiKeys } from './api/app.ts';
import { createMetrics } from './api/metrics.ts';
import { DEV_API_KEY } from './cli/ops.ts';
import { compose, type Runtime } from './compose.ts';
import { loadConfig, type Config } from './config/config.ts';
import { createKeyspace, type Keyspace } from './payments/keys.ts';
import { scheduleQueueName } from './queues/schedules.ts';
import { webhookQueueName } from './queues/webhooks.ts';
import { connectRedis, type RedisClient, type RedisTarget } from './platform/redis.ts';
import {
  findFreePort,
  redisAnswers,
  startRedisServer,
  type RedisServerHandle,
} from './platform/redis-server.ts';

const HOST = '127.0.0.1';
const prefix = process.env.DEMO_KEY_PREFIX || 'demo';

type Client = ReturnType<typeof createClient>;

/** The demo's own service and where it listens. */
interface Service {
  api: string;
  simulator: string;
  client: Client;
  runtime: Runtime;
  app: FastifyInstance;
  /** The redis-server started for the demo, when none was given or answered. */
  redisServer?: RedisServerHandle;
}

/** Only where Redis is comes from the environment; everything else is the demo's. */
function demoEnvironment(port: number, redisUrl?: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if ((name.startsWith('REDIS_') || name === 'SHARDS') && value) env[name] = value;
  }
  return {
    ...env,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    KEY_PREFIX: prefix,
    SIPS_ENV: 'simulator',
    HOST,
    PORT: String(port),
    PUBLIC_URL: `http://${HOST}:${port}`,
    SIMULATOR_PORT: '0',
    LOG_LEVEL: process.env.DEMO_LOG_LEVEL || 'error',
  };
}

/** REDIS_URL / REDIS_CLUSTER_NODES, or 6379 when it answers, or a server that keeps nothing. */
async function placeRedis(): Promise<RedisServerHandle | undefined> {
  if (process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES) return undefined;
  if (await redisAnswers('redis://127.0.0.1:6379')) return undefined;
  return startRedisServer({ persistence: 'none' });
}

/** Where the demo's Redis is: as compose will connect (REDIS_CLUSTER_NODES, else REDIS_URL). */
function redisTarget(config: Config): RedisTarget {
  return config.REDIS_CLUSTER_NODES
    ? { clusterNodes: config.REDIS_CLUSTER_NODES }
    : { url: config.REDIS_URL ?? 'redis://127.0.0.1:6379' };
}

/** The API, the workers and the embedded simulator, as `npm start` runs them, on `port`. */
async function startService(config: Config, port: number): Promise<Omit<Service, 'redisServer'>> {
  const metrics = createMetrics();
  const runtime = await compose(config, {
    workers: true,
    startRedis: false,
    onCall: (result) => metrics.onCall(result),
    onWebhookAttempt: (report) => metrics.onWebhookAttempt(report),
  });
  const api = `http://${HOST}:${port}`;
  const app = buildApi({
    orchestrator: runtime.orchestrator,
    apiKeys: parseApiKeys(`demo:${DEV_API_KEY}:payments|ops`),
    logger: runtime.logger,
    metrics,
    publicUrl: api,
  });
  try {
    await app.listen({ host: HOST, port });
  } catch (error) {
    await app.close().catch(() => undefined);
    await runtime.close();
    await removeDemoData(runtime.redisTarget, config.SHARDS).catch(() => undefined);
    throw error;
  }
  return {
    api,
    simulator: runtime.simulator?.url ?? runtime.sips.baseUrl,
    client: createClient({ baseUrl: api, apiKey: DEV_API_KEY }),
    runtime,
    app,
  };
}

/** Every BullMQ queue name of a shard (src/queues): steps, manual review, schedules, webhooks. */
function queueNames(keyspace: Keyspace, shard: number): string[] {
  return [
    keyspace.paymentsQueueName(shard),
    keyspace.reviewQueueName,
    scheduleQueueName(shard),
    webhookQueueName(shard),
  ];
}

/** Calls `each` with every batch of keys matching `pattern` on one Redis node (SCAN). */
async function scanKeys(
  node: RedisClient,
  pattern: string,
  each: (keys: string[]) => Promise<void>,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await each(keys);
  } while (cursor !== '0');
}

async function countMatching(node: RedisClient, pattern: string): Promise<number> {
  const seen = new Set<string>();
  await scanKeys(node, pattern, async (keys) => {
    for (const key of keys) seen.add(key);
  });
  return seen.size;
}

async function deleteMatching(node: RedisClient, pattern: string): Promise<void> {
  await scanKeys(node, pattern, async (keys) => {
    // One key per UNLINK: keys of several slots may share a cluster node.
    const pipeline = node.pipeline();
    for (const key of keys) pipeline.unlink(key);
    await pipeline.exec();
  });
}

/**
 * Removes what the demo wrote: obliterates its queues on every shard, then
 * deletes every key under its prefix (`{demo:s<n>}:…` and `demo:…`) on every
 * node (each master of a cluster). Returns how many keys there were.
 */
async function removeDemoData(target: RedisTarget, shards: number): Promise<number> {
  const connection = connectRedis(target, {
    connectionName: `${prefix}-cleanup`,
    maxRetriesPerRequest: 1,
  });
  connection.on('error', () => undefined);
  try {
    const nodes = connection instanceof Cluster ? connection.nodes('master') : [connection];
    let found = 0;
    for (const node of nodes) {
      found += await countMatching(node, `{${prefix}:*`);
      found += await countMatching(node, `${prefix}:*`);
    }
    if (found === 0) return 0;
    const keyspace = createKeyspace({ prefix, shards });
    for (const shard of keyspace.allShards) {
      for (const name of queueNames(keyspace, shard)) {
        const queue = new Queue(name, { connection, prefix: keyspace.bullmqPrefix(shard) });
        try {
          await queue.obliterate({ force: true });
        } finally {
          await queue.close();
        }
      }
    }
    for (const node of nodes) {
      await deleteMatching(node, `{${prefix}:*`);
      await deleteMatching(node, `${prefix}:*`);
    }
    return found;
  } finally {
    connection.disconnect();
  }
}

/** The answer's body, or an error naming the call and its problem. */
function ok<T>(label: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    throw new Error(`${label}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

/** A simulator control endpoint. */
async function control(service: Service, path: string, body: unknown): Promise<void> {
  const response = await request(`${service.simulator}/_control/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 400) {
    throw new Error(`POST /_control/${path}: ${response.statusCode} ${text}`);
  }
}

/** Posts a form as a browser does; the page it answers. */
async function form(url: string, fields: Record<string, string>): Promise<string> {
  const response = await request(url, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return response.body.text();
}

function firstForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]*)"/i.exec(html)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields[match[1] as string] = (match[2] as string)
      .replaceAll('&amp;', '&')
      .replaceAll('&quot;', '"');
  }
  return { action: action.replaceAll('&amp;', '&'), fields };
}

const card = (number: string) => ({ number, expiry: '203012', csc: '123' });

const newKey = () => ({ header: { 'Idempotency-Key': randomUUID() } });

async function create(client: Client, body: CreatePayment): Promise<Payment> {
  if (stopping) throw new Error('stopped');
  return ok('create', await client.POST('/v1/payments', { params: newKey(), body }));
}

async function settle(
  client: Client,
  id: string,
  until: (status: PaymentStatus) => boolean = (s) =>
    !IN_FLIGHT_STATUSES.has(s) && s !== 'outcome_unknown',
): Promise<Payment> {
  for (let i = 0; i < 200 && !stopping; i++) {
    const payment = ok(
      `GET ${id}`,
      await client.GET('/v1/payments/{id}', { params: { path: { id } } }),
    );
    if (until(payment.status)) return payment;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`payment ${id} did not settle`);
}

const report = (label: string, payment: Payment) =>
  console.log(`${label.padEnd(48)} ${payment.id}  ${payment.status}`);

/** A 3-D Secure payment, the customer's browser played through the simulator's ACS. */
async function threeDSecure(service: Service): Promise<Payment> {
  const { client, api, simulator } = service;
  const payment = await create(client, {
    method: 'card_3ds',
    amount: 8900,
    card: card('4000000000003001'),
    returnUrl: 'https://shop.example/done',
  });
  await settle(client, payment.id, (s) => s === 'awaiting_authentication');
  const page = await request(`${api}/v1/payments/${payment.id}/authentication`);
  const toAcs = firstForm(await page.body.text());
  const acs = firstForm(await form(toAcs.action, toAcs.fields));
  const decided = await form(new URL(acs.action, simulator).toString(), {
    ...acs.fields,
    outcome: 'SUCCESS',
  });
  const back = firstForm(decided);
  await form(back.action, back.fields);
  return settle(client, payment.id);
}

async function scenario(service: Service): Promise<void> {
  const { client } = service;
  for (let i = 0; i < 5; i++) {
    const payment = await create(client, {
      amount: 1000 + i * 250,
      card: card('4000000000000002'),
    });
    report('accepted card', await settle(client, payment.id));
  }
  for (let i = 0; i < 2; i++) {
    const payment = await create(client, { amount: 4200, card: card('4000000000000119') });
    report('refused card (05)', await settle(client, payment.id));
  }

  report('3-D Secure, authenticated', await threeDSecure(service));

  await control(service, 'faults', {
    match: { service: 'cardOrder' },
    times: 1,
    type: 'responseCode',
    responseCode: '90',
  });
  const retried = await create(client, { amount: 3100, card: card('4000000000000002') });
  report('90, then accepted', await settle(client, retried.id));

  await control(service, 'faults', {
    match: { service: 'cardOrder' },
    times: 1,
    type: 'corruptSeal',
  });
  const forged = await create(client, { amount: 5600, card: card('4000000000000002') });
  report('seal mismatch (manual review)', await settle(client, forged.id));

  const captured = await create(client, {
    amount: 12000,
    captureMode: 'validation',
    card: card('4000000000000002'),
  });
  await settle(client, captured.id);
  const path = { id: captured.id };
  ok(
    'capture',
    await client.POST('/v1/payments/{id}/captures', { params: { path }, body: { amount: 10000 } }),
  );
  await settle(client, captured.id);
  // The capture is remitted at the simulator's next daily run: move its clock there.
  await control(service, 'clock/advance', { days: 1 });
  await control(service, 'remittance', {});
  ok(
    'refund',
    await client.POST('/v1/payments/{id}/refunds', {
      params: { path, ...newKey() },
      body: { amount: 2500 },
    }),
  );
  report('captured 100.00, refunded 25.00', await settle(client, captured.id));

  const deferred = await create(client, {
    amount: 4500,
    captureMode: 'validation',
    captureDay: 3,
    capture: { afterMs: 60_000, atLimit: 'cancel' },
    card: card('4000000000000002'),
  });
  report('deferred capture (in 1 min)', await settle(client, deferred.id));

  const { subscription, firstPayment } = ok(
    'subscription',
    await client.POST('/v1/subscriptions', {
      params: newKey(),
      body: { amount: 990, interval: '1m', card: card('4000000000000002') },
    }),
  );
  report(`subscription ${subscription.id}`, await settle(client, firstPayment.id));

  const { plan, firstPayment: firstInstalment } = ok(
    'instalment plan',
    await client.POST('/v1/instalment-plans', {
      params: newKey(),
      body: { amount: 30000, count: 3, card: card('4000000000000002') },
    }),
  );
  report(`instalments ${plan.id} (1 of 3)`, await settle(client, firstInstalment.id));
}

/** Stops the service and removes its data, once, whoever asks first. */
let stopped: Promise<void> | undefined;
/** Set once the service stops: the scenario sends nothing more. */
let stopping = false;

function stop(service: Service): Promise<void> {
  stopped ??= (async () => {
    const { runtime } = service;
    stopping = true;
    // Closing the connections may leave Node nothing to wait for before the sweep starts.
    const alive = setInterval(() => undefined, 60_000);
    try {
      // The demo is the API's only client: its keep-alive connections need not be waited for.
      const closing = service.app.close();
      service.app.server.closeAllConnections();
      await closing;
      await runtime.close();
      const removed = await removeDemoData(runtime.redisTarget, runtime.config.SHARDS);
      console.log(`removed the demo's data: ${removed} keys under the prefix ${prefix}`);
    } catch (error) {
      console.error(
        `could not remove the demo's data (${error instanceof Error ? error.message : String(error)}): ` +
          `its keys are those matching {${prefix}:* and ${prefix}:*; the next run removes them`,
      );
      process.exitCode = 1;
    } finally {
      await service.redisServer?.stop();
      clearInterval(alive);
    }
  })();
  return stopped;
}

async function run(): Promise<void> {
  let service: Service | undefined;
  let interrupted = false;
  let finished = false;
  let signalledAt = 0;
  const onSignal = () => {
    // Ctrl-C reaches the demo both from the terminal and relayed by npm and
    // tsx: a signal within a second of the first is the same one.
    if (signalledAt > 0) {
      if (Date.now() - signalledAt > 1_000) process.exit(130); // a second Ctrl-C: stop at once
      return;
    }
    signalledAt = Date.now();
    interrupted = true;
    if (!service) return; // still starting: stopped as soon as it is up
    console.error(
      finished ? '\nstopping the demo' : '\ninterrupted: stopping the demo and removing its data',
    );
    void stop(service).finally(() => process.exit(finished ? 0 : 130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const redisServer = await placeRedis();
  try {
    const port = await findFreePort();
    const config = loadConfig(demoEnvironment(port, redisServer?.url));
    // What an earlier run left when it was killed before it could clean up.
    const stale = await removeDemoData(redisTarget(config), config.SHARDS);
    if (stale > 0) console.log(`removed ${stale} keys an earlier demo left (prefix ${prefix})`);
    service = { ...(await startService(config, port)), ...(redisServer ? { redisServer } : {}) };
  } catch (error) {
    await redisServer?.stop();
    throw error;
  }
  if (interrupted) {
    await stop(service);
    process.exit(130);
  }

  console.log(
    `demo service at ${service.api} (key ${DEV_API_KEY}), simulator at ${service.simulator}`,
  );
  try {
    await scenario(service);
    finished = true;
    if (process.env.DEMO_HOLD === '1') {
      console.log(
        `\nThe demo's service stays up until Ctrl-C, then its data is removed.\n` +
          `Reviews: GET ${service.api}/v1/reviews; schedules: GET ${service.api}/v1/schedules; ` +
          `metrics: GET ${service.api}/metrics (Bearer ${DEV_API_KEY}); console: ${service.api}/ops`,
      );
      // The server keeps the process up; Ctrl-C (onSignal) stops it and exits.
      await new Promise<never>(() => undefined);
    }
  } catch (error) {
    // Interrupted: the requests in flight fail as the service stops; that is no error.
    if (!interrupted) {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    }
  }
  await stop(service);
}

await run().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
