/**
 * Crash test (architecture §5): a few hundred payments run by workers-only
 * processes that are killed with SIGKILL at random moments and replaced,
 * against a simulator that injects latency, 90/99, hangs, resets, answers
 * dropped after processing and corrupt seals. Afterwards nothing is in flight,
 * and the simulator's ledger shows that no authorisation and no refund
 * happened twice, and that what our store says matches what Sips did.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { FINAL_STATUSES, type PaymentStatus } from '../../machines/contract.ts';
import { engineDataOf } from '../../src/engine/engine.ts';
import { createOrchestrator, type Orchestrator } from '../../src/orchestrator.ts';
import type { PaymentRecord } from '../../src/payments/store.ts';
import { SEED_TEST_MERCHANT_ID, SEED_TEST_SECRET_KEY } from '../../src/sips/environments.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.ts';
import { seededRandom } from '../../src/simulator/random.ts';
import { scanForCardData } from '../support/card-data-scan.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

const SEED = 20_260_115;
const PAYMENTS = 300;
/**
 * Workers killed in each phase of the run, at most; at least MIN_KILLS in all.
 * Each kill costs the run a worker start (a second or two of CPU) and the
 * stalled-job delay, so they are spread over the phases rather than packed.
 */
const KILLS_PER_PHASE: Record<string, number> = { create: 5, settle: 2, capture: 2, refund: 3 };
const MIN_KILLS = 8;
const MAX_KILLS = 16;
const EXPIRY = '203012';
/** Four digits, outside every amount, delay and count the run writes, so a search means something. */
const CSCS = ['9731', '9482'];
const ACCEPTED_CARDS = ['4000000000000002', '4100000000000000', '5100000000000000'];
const REFUSED_CARDS = ['4000000000000119', '4100000000000005'];

const RETRY = { attempts: 6, baseMs: 50, capMs: 400 };
const INQUIRY_SCHEDULE_MS = [200, 400, 800, 1_600, 3_200];
const SIPS_TIMEOUT_MS = 1_000;
const STALLED_INTERVAL_MS = 1_000;
const LOCK_DURATION_MS = 2_000;

/** Statuses in which a Sips call or an inquiry is under way. */
const IN_FLIGHT: ReadonlySet<PaymentStatus> = new Set([
  'received',
  'enrolling',
  'authenticating',
  'authorizing',
  'capturing',
  'cancelling',
  'refunding',
  'outcome_unknown',
]);
/** Where a payment may rest once nothing is in flight. */
const RESTING: ReadonlySet<PaymentStatus> = new Set([
  ...FINAL_STATUSES,
  'in_review',
  'authorized',
  'captured',
  'partially_refunded',
]);

type Plan = 'accepted' | 'validation' | 'refused';

interface Tracked {
  id: string;
  plan: Plan;
  pan: string;
  amount: number;
  /** Refund commands accepted (idempotency key → amount). */
  refunds: Map<string, number>;
  /** Capture commands accepted (idempotency key → amount). */
  captures: Map<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Nothing is in flight for the payment: no intent without outcome, a status
 * that waits for nobody, and no call or inquiry still to run.
 */
function isAtRest(record: PaymentRecord): boolean {
  if (record.intent !== undefined) return false;
  if (IN_FLIGHT.has(record.status)) return false;
  return !engineDataOf(record).followUps.some(
    (followUp) => followUp.type === 'call' || followUp.type === 'inquire',
  );
}

function describeRecord(record: PaymentRecord | undefined): string {
  if (!record) return 'missing';
  return JSON.stringify({
    id: record.id,
    status: record.status,
    version: record.version,
    intent: record.intent,
    amounts: record.amounts,
    followUps: engineDataOf(record).followUps,
  });
}

let ns: TestNamespace | undefined;
let sim: RunningSimulator | undefined;
let orchestrator: Orchestrator | undefined;
const workers: WorkerProcess[] = [];
let stopKilling = true;
let killer: Promise<void> | undefined;

afterAll(async () => {
  stopKilling = true;
  await killer?.catch(() => undefined);
  await Promise.all(workers.map((worker) => worker.kill()));
  await orchestrator?.close();
  await sim?.close();
  await ns?.close();
}, 30_000);

describe('crash test', () => {
  it('keeps every payment consistent while workers are killed at random', async ({ annotate }) => {
    const random = seededRandom(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random.next() * list.length)] as T;
    const between = (min: number, max: number) => Math.floor(min + random.next() * (max - min));

    ns = openTestNamespace('crash');
    const namespace = ns;
    const simulator = await startSimulator({
      control: true,
      faultSeed: SEED,
      faults: [
        { type: 'latency', distribution: 'uniform', min: 50, max: 300, rate: 0.1 },
        { type: 'responseCode', responseCode: '90', rate: 0.01 },
        { type: 'responseCode', responseCode: '99', rate: 0.03 },
        { type: 'hang', afterProcessing: true, rate: 0.02 },
        { type: 'dropAfterProcessing', rate: 0.02 },
        { type: 'reset', rate: 0.02 },
        { type: 'corruptSeal', rate: 0.01 },
      ],
    });
    sim = simulator;
    const vaultKey = randomBytes(32);
    const orc = await createOrchestrator({
      redis: namespace.redis({ forBullmq: true }),
      keyPrefix: namespace.ns,
      workers: false,
      sips: {
        baseUrl: simulator.url,
        merchantId: SEED_TEST_MERCHANT_ID,
        secretKey: new SecretKey(SEED_TEST_SECRET_KEY),
        keyVersion: '1',
        timeoutMs: SIPS_TIMEOUT_MS,
      },
      vault: { keys: { k1: vaultKey }, activeKeyId: 'k1' },
      retry: RETRY,
      inquiryScheduleMs: INQUIRY_SCHEDULE_MS,
    });
    orchestrator = orc;

    const env: Record<string, string> = {
      REDIS_URL: namespace.redisUrl,
      KEY_PREFIX: namespace.ns,
      SIPS_ENV: 'simulator',
      SIPS_BASE_URL: simulator.url,
      CARD_VAULT_KEYS: `k1:${vaultKey.toString('hex')}`,
      WORKER_CONCURRENCY: '50',
      RETRY_ATTEMPTS: String(RETRY.attempts),
      RETRY_BASE_MS: String(RETRY.baseMs),
      RETRY_MAX_MS: String(RETRY.capMs),
      INQUIRY_SCHEDULE: INQUIRY_SCHEDULE_MS.map((ms) => `${ms}ms`).join(','),
      STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
      LOCK_DURATION_MS: String(LOCK_DURATION_MS),
      SIPS_TIMEOUT_MS: String(SIPS_TIMEOUT_MS),
      // Info: the process says when its step workers run; little else is logged.
      LOG_LEVEL: 'info',
    };
    let started = 0;
    const startWorker = (): WorkerProcess => {
      const worker = startWorkerProcess(`w${++started}`, env);
      workers.push(worker);
      return worker;
    };
    const first = [startWorker(), startWorker()];
    let startTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(first.map((worker) => worker.ready)),
      new Promise((_, reject) => {
        startTimer = setTimeout(
          () =>
            reject(new Error(`workers did not start:\n${first.map((w) => w.output()).join('\n')}`)),
          20_000,
        );
      }),
    ]).finally(() => clearTimeout(startTimer));

    // The killer: at random moments, SIGKILL a running worker and start a new one.
    const kills: { at: number; worker: string; phase: string }[] = [];
    const startedAt = Date.now();
    let phase = 'create';
    const phases: Record<string, number> = {};
    const enter = (name: string) => {
      phase = name;
      phases[name] = Date.now() - startedAt;
    };
    stopKilling = false;
    killer = (async () => {
      while (!stopKilling && kills.length < MAX_KILLS) {
        await sleep(between(300, 900));
        if (stopKilling) break;
        const done = kills.filter((kill) => kill.phase === phase).length;
        if (phase === 'end' ? kills.length >= MIN_KILLS : done >= (KILLS_PER_PHASE[phase] ?? 0)) {
          continue;
        }
        const candidates = workers.filter((worker) => worker.alive && worker.isReady);
        if (candidates.length === 0) continue;
        const victim = pick(candidates);
        kills.push({ at: Date.now() - startedAt, worker: victim.name, phase });
        await victim.kill();
        startWorker();
      }
    })();

    const tracked: Tracked[] = [];
    const loadAll = async () =>
      Promise.all(
        tracked.map((payment) => testPortsOf(orc).store.get(payment.id, { timeline: false })),
      );
    async function waitAtRest(ids: readonly string[], timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const records = await Promise.all(
          ids.map((id) => testPortsOf(orc).store.get(id, { timeline: false })),
        );
        if (records.every((record) => record !== undefined && isAtRest(record))) return;
        if (Date.now() > deadline) {
          const busy = records.filter((record) => !record || !isAtRest(record));
          const timelines = await Promise.all(
            busy
              .slice(0, 3)
              .map(async (record) =>
                record
                  ? JSON.stringify((await orc.payments.get(record.id)).timeline.slice(-15))
                  : '',
              ),
          );
          throw new Error(
            `${busy.length} payments still busy after ${timeoutMs} ms:\n${busy
              .slice(0, 10)
              .map(describeRecord)
              .join('\n')}\n${timelines.join('\n')}`,
          );
        }
        await sleep(100);
      }
    }

    // A client sends again when told the first request with its key is still running.
    const createRetrying = async (body: Record<string, unknown>, key: string) => {
      for (;;) {
        try {
          return await orc.payments.create(body, { idempotencyKey: key });
        } catch (error) {
          if ((error as { code?: string }).code !== 'request_in_progress') throw error;
          await sleep(20);
        }
      }
    };

    // Phase 1: create the payments at a steady pace; a few creates are sent
    // twice with their idempotency key, as a client does after a timeout.
    const creations: Promise<void>[] = [];
    for (let i = 0; i < PAYMENTS; i++) {
      const roll = random.next();
      const plan: Plan = roll < 0.7 ? 'accepted' : roll < 0.85 ? 'validation' : 'refused';
      const pan = pick(plan === 'refused' ? REFUSED_CARDS : ACCEPTED_CARDS);
      const amount = plan === 'validation' ? 10_000 + i : between(1_000, 9_000);
      const body = {
        amount,
        currency: '978',
        captureMode: plan === 'validation' ? 'validation' : 'author_capture',
        card: { number: pan, expiry: EXPIRY, csc: CSCS[i % CSCS.length] },
        orderId: `order-${i}`,
      };
      const key = `crash-${i}`;
      const resend = random.next() < 0.1;
      creations.push(
        (async () => {
          const results = await Promise.all(
            Array.from({ length: resend ? 2 : 1 }, () => createRetrying(body, key)),
          );
          const ids = new Set(results.map((result) => result.payment.id));
          expect(ids.size).toBe(1);
          expect(results.filter((result) => result.created)).toHaveLength(1);
          tracked.push({
            id: results[0]?.payment.id ?? '',
            plan,
            pan,
            amount,
            refunds: new Map(),
            captures: new Map(),
          });
        })(),
      );
      if (i % 10 === 9) await sleep(between(100, 250));
    }
    await Promise.all(creations);

    // Phase 2: capture part of each VALIDATION payment once it is authorised.
    enter('settle');
    await waitAtRest(
      tracked.map((payment) => payment.id),
      45_000,
    );
    const validation = tracked.filter((payment) => payment.plan === 'validation');
    enter('capture');
    await Promise.all(
      validation.map(async (payment) => {
        const record = await testPortsOf(orc).store.get(payment.id, { timeline: false });
        if (record?.status !== 'authorized') return;
        const amount = payment.amount - 2_000;
        const key = `capture-${payment.id}`;
        await orc.payments.capture(payment.id, { amount }, { idempotencyKey: key });
        payment.captures.set(key, amount);
        // The client retries the same capture: recognised, not sent again.
        await orc.payments.capture(payment.id, { amount }, { idempotencyKey: key });
      }),
    );
    await waitAtRest(
      validation.map((payment) => payment.id),
      30_000,
    );

    // Phase 3: the captures are remitted, then refunded in two parts, the
    // first one sent twice with its key.
    simulator.clock.advanceDays(1);
    await simulator.control.runRemittance();
    enter('refund');
    const refundable = async (payment: Tracked) => {
      const record = await testPortsOf(orc).store.get(payment.id, { timeline: false });
      return record?.status === 'captured' || record?.status === 'partially_refunded';
    };
    const refund = async (payment: Tracked, key: string, amount: number) => {
      const sends = await Promise.allSettled([
        orc.payments.refund(payment.id, { amount }, { idempotencyKey: key }),
        orc.payments.refund(payment.id, { amount }, { idempotencyKey: key }),
      ]);
      if (sends.some((send) => send.status === 'fulfilled')) payment.refunds.set(key, amount);
    };
    await Promise.all(
      validation.map(async (payment) => {
        if (await refundable(payment)) await refund(payment, `refund-1-${payment.id}`, 1_500);
      }),
    );
    await waitAtRest(
      validation.map((payment) => payment.id),
      30_000,
    );
    await Promise.all(
      validation.map(async (payment) => {
        if (await refundable(payment)) await refund(payment, `refund-2-${payment.id}`, 700);
      }),
    );

    // Stop killing (after enough kills), keep one worker, let everything finish.
    enter('end');
    while (kills.length < MIN_KILLS && Date.now() - startedAt < 60_000) await sleep(100);
    stopKilling = true;
    await killer;
    const survivors = workers.filter((worker) => worker.alive);
    for (const worker of survivors.slice(1)) await worker.kill();
    if (!workers.some((worker) => worker.alive)) startWorker();
    enter('rest');
    await waitAtRest(
      tracked.map((payment) => payment.id),
      40_000,
    );
    // Stale jobs (of steps already taken) run out too, and none is left to run.
    enter('drain');
    const queue = testPortsOf(orc).queues.queue(0);
    const drainDeadline = Date.now() + 20_000;
    for (;;) {
      const counts = await queue.getJobCounts('active', 'wait', 'delayed', 'prioritized');
      // Capture-limit timers of VALIDATION authorisations are hours away by design.
      const timers = (await queue.getDelayed()).filter((job) => job?.data.task === 'timer').length;
      counts.delayed = (counts.delayed ?? 0) - timers;
      if (Object.values(counts).every((count) => count === 0)) break;
      if (Date.now() > drainDeadline) throw new Error(`jobs left: ${JSON.stringify(counts)}`);
      await sleep(100);
    }

    // What the run went through: kills, every kind of fault, interrupted calls.
    const faults = simulator.faults.list();
    const fired = Object.fromEntries(
      faults.map((fault) => [
        fault.spec.type === 'responseCode'
          ? `responseCode ${fault.spec.responseCode}`
          : fault.spec.type,
        fault.fired,
      ]),
    );
    const records = await loadAll();
    const interrupted = await Promise.all(
      tracked.map(async (payment) =>
        (await orc.payments.get(payment.id)).timeline.some(
          (entry) => entry.kind === 'sips.interrupted',
        ),
      ),
    );
    const byStatus: Record<string, number> = {};
    for (const record of records) {
      if (record) byStatus[record.status] = (byStatus[record.status] ?? 0) + 1;
    }
    const summary = JSON.stringify({
      seconds: Math.round((Date.now() - startedAt) / 100) / 10,
      kills: kills.map((kill) => `${kill.at}ms ${kill.phase}`),
      phases,
      workers: started,
      // Errors the workers logged (step jobs that threw something unexpected).
      workerErrors: workers
        .flatMap((worker) => worker.output().split('\n'))
        .filter((line) => /"level":(50|60)/.test(line))
        .slice(0, 3),
      interrupted: interrupted.filter(Boolean).length,
      fired,
      byStatus,
      // Answers to the money-moving calls after the authorisation, as the ledger saw them.
      calls: Object.fromEntries(
        (['validate', 'refund'] as const).map((service) => [
          service,
          countBy(
            simulator.ledger
              .requests({ service })
              .map(
                (entry) => `${entry.responseCode ?? '-'}${entry.fault ? `/${entry.fault}` : ''}`,
              ),
          ),
        ]),
      ),
    });
    await annotate(summary);
    expect(kills.length, summary).toBeGreaterThanOrEqual(MIN_KILLS);
    for (const type of ['hang', 'dropAfterProcessing', 'reset', 'corruptSeal'] as const) {
      expect(fired[type] ?? 0, `fault ${type} fired: ${summary}`).toBeGreaterThan(0);
    }
    expect(interrupted.filter(Boolean).length, summary).toBeGreaterThan(0);

    // One payment per create, whatever was resent.
    expect(new Set(tracked.map((payment) => payment.id)).size).toBe(PAYMENTS);
    const stored = await scanKeys(namespace, `*:payment:pay_*`);
    expect(stored.filter((key) => /:payment:pay_[^:]+$/.test(key))).toHaveLength(PAYMENTS);

    const ledger = simulator.ledger;
    const ourReferences = new Set<string>();
    for (const [i, payment] of tracked.entries()) {
      const record = records[i];
      expect(record, payment.id).toBeDefined();
      if (!record) continue;
      const where = `${payment.plan} payment ${describeRecord(record)}`;
      const reference = record.transactionReference;
      ourReferences.add(reference);

      // At rest, in a status where it may rest.
      expect(isAtRest(record), where).toBe(true);
      expect(RESTING.has(record.status), where).toBe(true);

      // Never authorised twice; what we say matches the ledger.
      const authorizations = ledger.countAuthorizations(reference);
      expect(authorizations, where).toBeLessThanOrEqual(1);
      if (['authorized', 'captured', 'partially_refunded', 'refunded'].includes(record.status)) {
        expect(authorizations, where).toBe(1);
        const movement = ledger.movements(reference).find((m) => m.kind === 'authorisation');
        expect(movement?.amount, where).toBe(record.amounts.authorized);
      }
      if (record.status === 'refused' || record.status === 'failed') {
        expect(authorizations, where).toBe(0);
      }
      if (payment.plan === 'refused') expect(authorizations, where).toBe(0);

      // Captured once, for the amount we captured.
      const validations = ledger.movements(reference).filter((m) => m.kind === 'validation');
      expect(validations.length, where).toBeLessThanOrEqual(payment.captures.size);
      if (
        payment.plan === 'validation' &&
        ['captured', 'partially_refunded', 'refunded'].includes(record.status)
      ) {
        expect(
          validations.map((m) => m.amount),
          where,
        ).toEqual([record.amounts.captured]);
      }

      // No refund sent twice: each refunded amount was asked for by as many
      // distinct commands (the two refunds differ), and what Sips refunded is
      // what we report, which with distinct amounts pins down which refunds.
      const refunds = ledger.movements(reference).filter((m) => m.kind === 'refund');
      expect(refunds.length, where).toBeLessThanOrEqual(payment.refunds.size);
      const asked = [...payment.refunds.values()];
      for (const movement of refunds) {
        const index = asked.indexOf(movement.amount);
        expect(
          index,
          `${where}: refund of ${movement.amount} not asked for`,
        ).toBeGreaterThanOrEqual(0);
        asked.splice(index, 1);
      }
      if (record.status !== 'in_review') {
        const refunded = refunds.reduce((sum, m) => sum + m.amount, 0);
        expect(refunded, where).toBe(record.amounts.refunded);
      }
    }
    // Every payment in review has its item in the review queue, for a person to see.
    const reviewed = new Set(
      (await orc.reviews.list({ limit: 1_000 })).map((item) => item.paymentId),
    );
    for (const record of records) {
      if (record?.status === 'in_review') expect(reviewed.has(record.id), record.id).toBe(true);
    }
    // No authorisation in the ledger for a reference we do not know.
    for (const movement of ledger.movements()) {
      if (movement.kind === 'authorisation') {
        expect(ourReferences.has(movement.transactionReference)).toBe(true);
      }
    }
    // The run reached every part of the lifecycle.
    expect(byStatus.authorized ?? 0).toBeGreaterThan(PAYMENTS / 2);
    expect(byStatus.refused ?? 0).toBeGreaterThan(0);
    expect((byStatus.partially_refunded ?? 0) + (byStatus.refunded ?? 0)).toBeGreaterThan(0);

    // Crashes and recoveries left no card data in clear.
    const scan = await scanForCardData(namespace.redis(), {
      match: `*${namespace.ns}*`,
      pans: [...ACCEPTED_CARDS, ...REFUSED_CARDS],
      cscs: CSCS,
      literals: [namespace.ns],
    });
    expect(scan.jobHashes).toBeGreaterThanOrEqual(PAYMENTS);
    expect(scan.findings).toEqual([]);
  }, 120_000);
});

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

async function scanKeys(namespace: TestNamespace, match: string): Promise<string[]> {
  const redis = namespace.redis();
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(
      cursor,
      'MATCH',
      `*${namespace.ns}${match}`,
      'COUNT',
      1000,
    );
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}
