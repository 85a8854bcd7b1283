/**
 * Redis loses acknowledged writes while Sips has already processed the calls
 * they announced: the money must not move twice.
 *
 * The scenario: refunds are accepted, workers write their intents and send
 * them, Sips processes every refund but answers late; then Redis comes back
 * without the intents:
 *
 * - `aof-cut`: restarted from an AOF cut back to before the intents (what
 *   `appendfsync everysec` loses on power loss);
 * - `stale-replica`: the primary dies and a replica that stopped receiving
 *   writes before the intents takes over;
 * - `kill`: the server is killed and restarted from its AOF as it is.
 *
 * Every protection a production deployment may choose is shown to hold in the
 * loss it is meant for (0 duplicate refunds in the simulator's ledger), and
 * the same loss without it (`none`) sends every refund twice and puts every
 * payment in review instead of adopting Sips' figures silently.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createOrchestrator,
  type Orchestrator,
  type OrchestratorOptions,
} from '../../src/orchestrator.ts';
import type { DurabilityMode } from '../../src/payments/durability.ts';
import { checkDurability } from '../../src/payments/durability.ts';
import {
  findFreePort,
  startRedisServer,
  type RedisServerHandle,
} from '../../src/platform/redis-server.ts';
import { SEED_TEST_MERCHANT_ID, SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { ACCEPTED_CARD, EXPIRY, settled } from '../support/orchestrator-harness.ts';

const PAYMENTS = 6;
const AMOUNT = 10_000;
const REFUND = 1_000;

type Loss = 'aof-cut' | 'stale-replica' | 'kill';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) {
    await cleanups
      .pop()?.()
      .catch(() => undefined);
  }
});

function later(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

async function redisServer(
  dir: string,
  port: number,
  extraArgs: readonly string[] = [],
): Promise<RedisServerHandle> {
  const server = await startRedisServer({ persistence: 'aof', dataDir: dir, port, extraArgs });
  later(() => server.kill());
  return server;
}

/** The AOF file Redis appends to now (multi-part AOF: the manifest's `type i` entry). */
function incrementalAof(dir: string): string {
  const manifest = readFileSync(join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'utf8');
  const line = manifest.split('\n').find((entry) => /\btype i\b/.test(entry));
  const name = /file (\S+)/.exec(line ?? '')?.[1];
  if (!name) throw new Error(`no incremental AOF in the manifest:\n${manifest}`);
  return join(dir, 'appendonlydir', name);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await within(Promise.resolve(check()), Math.max(1, deadline - Date.now()), what))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Fails naming what did not happen in time, instead of hanging the test. */
async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function orchestratorOn(
  url: string,
  sim: RunningSimulator,
  mode: DurabilityMode,
  vaultKey: Buffer,
  changes: Partial<OrchestratorOptions> = {},
): Promise<Orchestrator> {
  return createOrchestrator({
    redis: url,
    keyPrefix: 'lost',
    durability: { mode, waitReplicas: 1, waitTimeoutMs: 200 },
    sips: {
      baseUrl: sim.url,
      merchantId: SEED_TEST_MERCHANT_ID,
      secretKey: new SecretKey(SEED_TEST_SECRET_KEY),
      keyVersion: '1',
      timeoutMs: 2_000,
    },
    vault: { keys: { k1: vaultKey }, activeKeyId: 'k1' },
    retry: { attempts: 20, baseMs: 100, capMs: 500 },
    inquiryScheduleMs: [100, 300, 1_000, 2_000],
    stalledIntervalMs: 1_000,
    lockDurationMs: 2_000,
    concurrency: 20,
    janitor: { intervalMs: 0 },
    clock: sim.clock,
    ...changes,
  });
}

interface Outcome {
  /** Refunds Sips made per payment, as its ledger saw them. */
  refundsAtSips: number[];
  statuses: string[];
  refundedInOurBooks: number[];
  /** Refunds sent before the loss. */
  sentBeforeLoss: number;
}

/**
 * Authorised and remitted payments, one refund each accepted, then `loss`
 * strikes while Sips holds the answers back; returns what Sips did and where
 * the payments ended.
 */
async function refundsThroughLoss(mode: DurabilityMode, loss: Loss): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'sog-lost-'));
  later(async () => rmSync(dir, { recursive: true, force: true }));
  const port = await findFreePort();
  const fsyncArgs = loss === 'kill' ? ['--appendfsync', 'always'] : [];
  let primary = await redisServer(join(dir, 'primary'), port, fsyncArgs);
  let replica: RedisServerHandle | undefined;
  if (loss === 'stale-replica') {
    replica = await redisServer(join(dir, 'replica'), await findFreePort(), [
      '--replicaof',
      '127.0.0.1',
      String(port),
    ]);
  }
  const admin = new Redis(primary.url, { maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  later(async () => admin.disconnect());
  if (replica) {
    await until('the replica to be online', async () =>
      /state=online/.test(await admin.info('replication')),
    );
  }

  const sim = await startSimulator({ control: true });
  later(() => sim.close());
  const vaultKey = randomBytes(32);

  // Captured and remitted payments: refundable.
  const setup = await orchestratorOn(primary.url, sim, mode, vaultKey);
  const ids: string[] = [];
  for (let index = 0; index < PAYMENTS; index++) {
    const { payment } = await setup.payments.create({
      amount: AMOUNT,
      currency: '978',
      captureMode: 'validation',
      card: { number: ACCEPTED_CARD, expiry: EXPIRY, csc: '123' },
    });
    ids.push(payment.id);
  }
  const allAt = (status: string) => async () =>
    (await Promise.all(ids.map((id) => setup.payments.get(id)))).every(
      (payment) => payment.status === status,
    );
  await until('the authorisations', allAt('authorized'));
  for (const id of ids) await setup.payments.capture(id, { amount: AMOUNT });
  await until('the captures', allAt('captured'));
  sim.clock.advanceDays(1);
  await sim.control.runRemittance();
  await setup.close();

  // The refunds are accepted (their commands and jobs are in Redis), no worker runs yet.
  const api = await orchestratorOn(primary.url, sim, mode, vaultKey, { workers: false });
  for (const id of ids) await api.payments.refund(id, { amount: REFUND });
  await api.close();
  const aof = incrementalAof(join(dir, 'primary'));
  const cutAt = statSync(aof).size;
  if (replica) {
    // The replica holds the commands, then stops receiving: it will miss the intents.
    expect(await admin.wait(1, 5_000)).toBe(1);
    const detached = new Redis(replica.url);
    await detached.replicaof('NO', 'ONE');
    detached.disconnect();
  }

  // Sips processes every refund and holds its answers back.
  sim.faults.add({ type: 'hang', afterProcessing: true, match: { service: 'refund' } });
  const workers = await orchestratorOn(primary.url, sim, mode, vaultKey);
  const refundsAtSips = () => sim.ledger.countMovements('refund');
  if (mode === 'replica') {
    // Without a replica to hold the intents, nothing may go out.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  } else {
    await until('Sips to process the refunds', () => refundsAtSips() === PAYMENTS);
  }
  const sentBeforeLoss = refundsAtSips();

  // The loss.
  sim.faults.clear();
  let url: string;
  if (loss === 'stale-replica') {
    // The workers stop with the primary (their held calls time out); the
    // replica, stale since before the intents, takes over.
    await workers.close();
    await primary.kill('SIGKILL');
    const promoted = replica as RedisServerHandle;
    url = promoted.url;
    // The new primary gets a replica of its own, as a Sentinel deployment
    // with two replicas would keep one.
    await redisServer(join(dir, 'second-replica'), await findFreePort(), [
      '--replicaof',
      '127.0.0.1',
      String(promoted.port),
    ]);
    const fresh = new Redis(url);
    await until('a replica of the new primary', async () =>
      /state=online/.test(await fresh.info('replication')),
    );
    fresh.disconnect();
  } else if (loss === 'aof-cut') {
    // The workers stop (their held calls time out); then the server loses
    // everything written since the cut: the intents, and what followed them.
    await workers.close();
    await primary.kill('SIGKILL');
    truncateSync(aof, cutAt);
    primary = await redisServer(join(dir, 'primary'), port, fsyncArgs);
    url = primary.url;
  } else {
    // The workers stop, then the server is killed: with appendfsync always,
    // every write it acknowledged (intents, outcomes) is in the AOF it restarts from.
    await workers.close();
    await primary.kill('SIGKILL');
    primary = await redisServer(join(dir, 'primary'), port, fsyncArgs);
    url = primary.url;
  }
  const after = await orchestratorOn(url, sim, mode, vaultKey);
  later(() => after.close());
  // `captured` is where a payment rests before its refund job runs again:
  // every payment here ends refunded or in review, so it is not the end yet.
  const atRest = async () =>
    (await Promise.all(ids.map((id) => after.payments.get(id)))).every(
      (payment) =>
        (settled(payment) && payment.status !== 'captured') || payment.status === 'in_review',
    );
  await until('every payment at rest', atRest, 30_000);
  const payments = await Promise.all(ids.map((id) => after.payments.get(id)));
  return {
    refundsAtSips: payments.map((payment) =>
      sim.ledger.countMovements('refund', payment.transactionReference),
    ),
    statuses: payments.map((payment) => payment.status),
    refundedInOurBooks: payments.map((payment) => payment.amounts.refunded),
    sentBeforeLoss,
  };
}

const once = Array<number>(PAYMENTS).fill(1);
const twice = Array<number>(PAYMENTS).fill(2);

describe('Redis loses the intents of calls Sips already processed', () => {
  it('verify: an AOF cut back sends no refund twice; the payments adopt what Sips did', async () => {
    const outcome = await refundsThroughLoss('verify', 'aof-cut');
    expect(outcome.sentBeforeLoss).toBe(PAYMENTS);
    expect(outcome.refundsAtSips).toEqual(once);
    expect(outcome.statuses).toEqual(Array(PAYMENTS).fill('partially_refunded'));
    expect(outcome.refundedInOurBooks).toEqual(Array(PAYMENTS).fill(REFUND));
  }, 150_000);

  it('none: the same cut sends every refund twice, and every payment goes to review', async () => {
    const outcome = await refundsThroughLoss('none', 'aof-cut');
    expect(outcome.refundsAtSips).toEqual(twice);
    expect(outcome.statuses).toEqual(Array(PAYMENTS).fill('in_review'));
  }, 150_000);

  it('replica: nothing goes out until a replica holds the intent; the stale replica sends each refund once', async () => {
    const outcome = await refundsThroughLoss('replica', 'stale-replica');
    expect(outcome.sentBeforeLoss).toBe(0);
    expect(outcome.refundsAtSips).toEqual(once);
    expect(outcome.statuses).toEqual(Array(PAYMENTS).fill('partially_refunded'));
  }, 150_000);

  it('none: a stale replica taking over sends every refund twice', async () => {
    const outcome = await refundsThroughLoss('none', 'stale-replica');
    expect(outcome.refundsAtSips).toEqual(twice);
    expect(outcome.statuses).toEqual(Array(PAYMENTS).fill('in_review'));
  }, 150_000);

  it('fsync: a killed server keeps every acknowledged write; no refund is sent twice', async () => {
    const outcome = await refundsThroughLoss('fsync', 'kill');
    expect(outcome.sentBeforeLoss).toBe(PAYMENTS);
    expect(outcome.refundsAtSips).toEqual(once);
    expect(outcome.statuses).toEqual(Array(PAYMENTS).fill('partially_refunded'));
  }, 150_000);
});

describe('the start-up check of REDIS_DURABILITY', () => {
  it('fsync needs appendfsync always; replica needs a replica online; none is refused outside the simulator', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sog-check-'));
    later(async () => rmSync(dir, { recursive: true, force: true }));
    const everysec = await redisServer(join(dir, 'a'), await findFreePort());
    const always = await redisServer(join(dir, 'b'), await findFreePort(), [
      '--appendfsync',
      'always',
    ]);
    const lazy = new Redis(everysec.url);
    const strict = new Redis(always.url);
    later(async () => {
      lazy.disconnect();
      strict.disconnect();
    });
    const check = { production: true, setting: 'REDIS_URL' } as const;
    await expect(checkDurability(lazy, { ...check, mode: 'fsync' })).rejects.toThrow(
      /appendfsync always at 127\.0\.0\.1:\d+; it runs appendonly yes, appendfsync everysec/,
    );
    await expect(checkDurability(strict, { ...check, mode: 'fsync' })).resolves.toMatchObject({
      mode: 'fsync',
      warnings: [],
    });
    await expect(checkDurability(strict, { ...check, mode: 'replica' })).rejects.toThrow(
      /REDIS_WAIT_REPLICAS=1 replica\(s\) online at 127\.0\.0\.1:\d+; it has 0/,
    );
    await expect(checkDurability(strict, { ...check, mode: 'none' })).rejects.toThrow(
      /REDIS_DURABILITY_ALLOW_UNSAFE=none/,
    );
    await expect(
      checkDurability(strict, { ...check, mode: 'none', allowUnsafe: 'none' }),
    ).resolves.toMatchObject({ warnings: [expect.stringMatching(/twice/)] });
    await expect(
      checkDurability(strict, { ...check, production: false, mode: 'none' }),
    ).resolves.toMatchObject({ mode: 'none' });
    await expect(checkDurability(strict, { ...check, mode: 'verify' })).resolves.toMatchObject({
      warnings: [],
    });
  });
});
