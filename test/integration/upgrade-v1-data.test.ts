/**
 * Data written by the previous version is read and driven on: a deployment
 * stopped with work in flight (test/fixtures/v1-inflight.json, made by
 * test/fixtures/make-v1-fixture.ts) is loaded into Redis as it left it,
 * snapshots, engine data and facts included, with the simulator's memory of
 * the same transactions. This version starts on it at the moment it stopped,
 * with the same card vault key, and every payment, subscription and plan
 * reaches a state of rest: no call sent twice, no reference authorised
 * twice, each reauthorisation in progress completed once, and the money
 * where the simulator's ledger says it is.
 *
 * Loading moves BullMQ's wall-clock stamps by the time since the snapshot,
 * as if the old process had stopped a moment ago: delayed jobs keep the time
 * they had left, and the test runs the ones that are due (or that it means to
 * see run) by promoting them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { FINAL_STATUSES, type PaymentStatus } from '../../machines/contract.ts';
import type { PaymentView } from '../../src/orchestrator.ts';
import type { Movement } from '../../src/simulator/index.ts';
import { loadKeys } from '../fixtures/redis-snapshot.ts';
import { restoreSimulator } from '../fixtures/simulator-state.ts';
import { readV1Fixture } from '../fixtures/v1-fixture.ts';
import { authenticateAtAcs } from '../support/acs.ts';
import { scanForCardData } from '../support/card-data-scan.ts';
import {
  ACCEPTED_CARD,
  EXPIRY,
  THREE_DS_SUCCESS_CARD,
  settled,
  startOrchestratorHarness,
  type OrchestratorHarness,
} from '../support/orchestrator-harness.ts';
import { engineDataOf } from '../../src/engine/engine.ts';
import { ENGINE_DATA_FORMAT } from '../../src/engine/engine-data.ts';
import { testPortsOf } from '../../src/orchestrator.ts';

const fixture = readV1Fixture();
const cases = fixture.cases;
const id = (role: string): string => {
  const payment = cases.payments[role];
  if (!payment) throw new Error(`the fixture has no payment playing ${role}`);
  return payment.id;
};
/** The CSC of the fixture's cards. */
const FIXTURE_CSC = '8264';
/** Waits for workers and timers, and for stalled jobs of the killed worker to be taken again. */
const SLOW = { timeout: 30_000 };
/** Where a payment may rest: final, or waiting for a merchant's command. */
const RESTING: ReadonlySet<PaymentStatus> = new Set([
  ...FINAL_STATUSES,
  'authorized',
  'captured',
  'partially_refunded',
]);
const AUTHORIZED_ONCE: ReadonlySet<PaymentStatus> = new Set([
  'authorized',
  'captured',
  'partially_refunded',
  'refunded',
]);

let harness: OrchestratorHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** The facts of a payment's engine data as the fixture holds them. */
function storedFacts(paymentId: string): Record<string, string> {
  const record = fixture.keys.find((entry) => entry.key.endsWith(`}:payment:${paymentId}`));
  if (record?.type !== 'hash') throw new Error(`no record of ${paymentId} in the fixture`);
  const engine = JSON.parse(record.value.engine ?? '{}') as { facts?: Record<string, string> };
  return engine.facts ?? {};
}

/** `1700000000000-3` before `1700000000000-12`. */
function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** Jobs still to run now (not delayed) in the step and schedule queues of every shard. */
async function runnableJobs(redis: Redis, prefix: string): Promise<number> {
  let count = 0;
  for (let shard = 0; shard < fixture.redis.shards; shard++) {
    for (const queue of [`payments-s${shard}`, `schedules-s${shard}`]) {
      const base = `{${prefix}:s${shard}}:${queue}`;
      count += await redis.llen(`${base}:wait`);
      count += await redis.llen(`${base}:active`);
      count += await redis.llen(`${base}:paused`);
      count += await redis.zcard(`${base}:prioritized`);
    }
  }
  return count;
}

describe('data written by the previous version', () => {
  it('is read and driven to rest: payments in flight, reauthorisations, a subscription, a plan, a review', async () => {
    // The clock resumes where the old deployment stopped, at the real pace.
    const clockOffset = fixture.takenAt.clockMs - Date.now();
    const clock = { now: () => Date.now() + clockOffset };
    const vault = {
      keys: Object.fromEntries(
        Object.entries(fixture.vault.keys).map(([keyId, hex]) => [keyId, Buffer.from(hex, 'hex')]),
      ),
      activeKeyId: fixture.vault.activeKeyId,
    };
    // No worker until the data is in place.
    const h = await startOrchestratorHarness({
      clock,
      orchestrator: { workers: false, shards: fixture.redis.shards, vault },
    });
    harness = h;
    restoreSimulator(h.sim, fixture.simulator);
    const redis = h.ns.redis();
    const loaded = await loadKeys(redis, fixture.keys, {
      prefix: { from: fixture.redis.keyPrefix, to: h.ns.ns },
      shiftBullmqMs: Date.now() - fixture.takenAt.wallClockMs,
    });
    expect(loaded).toBe(fixture.redis.keyCount);
    const cardData = {
      match: `*${h.ns.ns}*`,
      pans: [ACCEPTED_CARD, THREE_DS_SUCCESS_CARD],
      cscs: [FIXTURE_CSC],
      literals: [h.ns.ns],
    };
    // Card data came sealed by the vault, and stays so.
    expect((await scanForCardData(redis, cardData)).findings).toEqual([]);
    const ledger = h.sim.ledger;
    const get = (paymentId: string) => h.orchestrator.payments.get(paymentId);

    // Read as written: every payment where the old version left it.
    for (const [role, { id: paymentId, status }] of Object.entries(cases.payments)) {
      expect((await get(paymentId)).status, role).toBe(status);
    }
    // The reauthorisations in progress, as the old version wrote them in the facts.
    expect(storedFacts(id('reauthClaimed'))).toMatchObject({
      reauthorizing: 'true',
      reauthorizationId: cases.reauthorizationIds.claimed,
    });
    expect(storedFacts(id('reauthMade'))).toMatchObject({
      reauthorizedAs: cases.reauthorizationIds.made,
    });
    expect(storedFacts(id('reauthMade')).reauthorizationOutcome).toBeUndefined();
    const reference = new Map<string, string>();
    for (const { id: paymentId } of Object.values(cases.payments)) {
      reference.set(paymentId, (await get(paymentId)).transactionReference);
    }
    const ref = (role: string) => reference.get(id(role)) as string;
    const movements = (transactionReference: string, kind: Movement['kind']) =>
      ledger.movements(transactionReference).filter((movement) => movement.kind === kind);
    // What Sips did before the upgrade: the killed worker's calls were processed.
    expect(movements(ref('intent'), 'validation')).toHaveLength(1);
    expect(ledger.countAuthorizations(ref('replacement'))).toBe(1);
    expect(ledger.countAuthorizations(ref('unknown'))).toBe(1);
    const duplicatesOf = (role: string) =>
      ledger
        .movements()
        .filter(
          (movement) =>
            movement.kind === 'duplicateAuthorisation' &&
            movement.fromTransactionReference === ref(role),
        )
        .map((movement) => movement.transactionReference);
    expect(duplicatesOf('reauthMade')).toEqual([ref('replacement')]);
    expect(duplicatesOf('reauthClaimed')).toEqual([]);

    // This version's workers start on it.
    await h.restart(0, { workers: true });
    const orchestrator = h.orchestrator;
    const status = (role: string) => async () => (await get(id(role))).status;

    // Jobs that were waiting run; calls the killed worker had sent are not
    // sent again: their outcome is asked of Sips.
    await expect.poll(status('received'), SLOW).toBe('authorized');
    await expect.poll(status('refundQueued'), SLOW).toBe('partially_refunded');
    await expect.poll(status('intent'), SLOW).toBe('captured');
    await expect.poll(status('replacement'), SLOW).toBe('authorized');
    // The old authorisation is released once its replacement stands.
    await expect.poll(status('reauthMade'), SLOW).toBe('cancelled');

    // Delayed jobs that are due at the restart clock, or that the test means to see run.
    const subscriptionId = cases.subscription;
    const planId = cases.plan;
    const wanted = (data: Record<string, unknown>): boolean =>
      (data.task === 'inquire' && data.paymentId === id('unknown')) ||
      (data.task === 'timer' && data.timer === 'capture' && data.paymentId === id('deferred')) ||
      (data.task === 'timer' &&
        data.timer === 'limit_policy' &&
        data.paymentId === id('reauthClaimed')) ||
      (data.task === 'abandon' && data.paymentId === id('acsAbandons')) ||
      (data.task === 'occurrence' && data.subscriptionId === subscriptionId) ||
      (data.task === 'instalment' && data.planId === planId);
    // All six are hours or days from due by BullMQ's clock: nothing else moves them meanwhile.
    expect(await h.promoteDelayed(wanted)).toBe(6);

    // The customer back from the ACS of the old simulator's session.
    const waiting = await get(id('acsReturns'));
    expect(waiting.redirection?.url).toBeDefined();
    const acsUrl = new URL(waiting.redirection?.url as string);
    const back = await authenticateAtAcs(
      h.sim.url,
      { ...waiting.redirection, url: `${h.sim.url}${acsUrl.pathname}` },
      'SUCCESS',
    );
    await orchestrator.payments.completeAuthentication(id('acsReturns'), { paRes: back.PaRes });

    // The item a person was to decide, decided through the public API.
    const item = await orchestrator.reviews.get(cases.reviewJobId);
    expect(item).toMatchObject({ paymentId: id('review'), state: 'open', reason: 'seal_mismatch' });
    // Written with the seal it computed and the card's expiry: shown without them.
    expect(item?.evidence.seal).toEqual({ verified: false, reason: 'mismatch' });
    expect(JSON.stringify(item)).not.toMatch(/expected|panExpiryDate|Expiry|[0-9a-f]{64}/);
    const resolved = await orchestrator.reviews.resolve(cases.reviewJobId, {
      action: 'adopt',
      note: 'Sips shows the authorisation',
      by: 'ops-upgrade',
    });
    expect(resolved.payment.status).toBe('authorized');

    await expect.poll(status('unknown'), SLOW).toBe('authorized');
    await expect.poll(status('deferred'), SLOW).toBe('captured');
    await expect.poll(status('acsAbandons'), SLOW).toBe('expired');
    await expect.poll(status('acsReturns'), SLOW).toBe('authorized');
    await expect.poll(status('reauthClaimed'), SLOW).toBe('cancelled');
    await expect
      .poll(async () => (await get(cases.reauthorizationIds.claimed)).status, SLOW)
      .toBe('authorized');

    // Commands on old payments: retries of old ones are recognised, new ones act.
    const replayed = await orchestrator.payments.create(
      { amount: 1_234, currency: 'EUR', orderId: 'v1-received', card: testCard() },
      { idempotencyKey: cases.idempotencyKeys.createReceived as string },
    );
    expect(replayed).toMatchObject({ created: false, payment: { id: id('received') } });
    await orchestrator.payments.refund(
      id('refundQueued'),
      { amount: 1_000 },
      { idempotencyKey: cases.idempotencyKeys.refundQueued as string },
    );
    await orchestrator.payments.capture(
      id('intent'),
      { amount: 2_900 },
      { idempotencyKey: cases.idempotencyKeys.captureCrashed as string },
    );
    await orchestrator.payments.refund(
      id('partial'),
      { amount: 1_500 },
      { idempotencyKey: cases.idempotencyKeys.partialRefund as string },
    );
    await orchestrator.payments.refund(
      id('partial'),
      { amount: 500 },
      { idempotencyKey: 'after-upgrade' },
    );
    await expect.poll(async () => (await get(id('partial'))).amounts.refunded, SLOW).toBe(2_000);

    // The subscription's next period and the plan's last instalment, paid once each.
    await expect
      .poll(async () => {
        const subscription = await orchestrator.subscriptions.get(subscriptionId);
        return subscription.occurrences.map((o) => `${o.period}:${o.status}`);
      }, SLOW)
      .toEqual(['0:paid', '1:paid', '2:paid']);
    await expect
      .poll(async () => (await orchestrator.instalmentPlans.get(planId)).status, SLOW)
      .toBe('completed');

    // At rest: nothing waits to run, and every payment is where it may stay.
    const prefix = h.ns.ns;
    await expect.poll(() => runnableJobs(redis, prefix), SLOW).toBe(0);
    const subscription = await orchestrator.subscriptions.get(subscriptionId);
    const plan = await orchestrator.instalmentPlans.get(planId);
    const all = new Set([
      ...Object.values(cases.payments).map((payment) => payment.id),
      cases.reauthorizationIds.claimed,
      ...subscription.occurrences.flatMap((occurrence) => occurrence.paymentIds),
      ...plan.instalments.map((instalment) => instalment.paymentId),
    ]);
    const views = new Map<string, PaymentView>();
    for (const paymentId of all) views.set(paymentId, await get(paymentId));
    for (const [paymentId, view] of views) {
      expect(settled(view), `${paymentId} ${view.status}`).toBe(true);
      expect(RESTING.has(view.status), `${paymentId} ${view.status}`).toBe(true);
    }
    // The janitor takes the AUTHOR_CAPTURE authorisations Sips has remitted
    // since as captured; a second pass finds nothing left to settle.
    const sweep = await orchestrator.ops.runJanitor();
    expect(
      sweep.payments.filter((entry) => !['reconciled', 'unchanged'].includes(entry.verdict)),
      JSON.stringify(sweep),
    ).toEqual([]);
    expect(sweep.noticesHandled ?? 0).toBe(0);
    const again = await orchestrator.ops.runJanitor();
    expect(
      again.payments.filter((entry) => entry.verdict !== 'unchanged'),
      JSON.stringify(again),
    ).toEqual([]);
    await expect.poll(() => runnableJobs(redis, prefix), SLOW).toBe(0);
    for (const paymentId of all) views.set(paymentId, await get(paymentId));
    for (const [paymentId, view] of views) {
      expect(RESTING.has(view.status), `${paymentId} ${view.status}`).toBe(true);
    }

    // Each reauthorisation completed once: one new authorisation, the old one released once.
    for (const [role, replacementId] of [
      ['reauthClaimed', cases.reauthorizationIds.claimed],
      ['reauthMade', cases.reauthorizationIds.made],
    ] as const) {
      const old = views.get(id(role)) as PaymentView;
      const replacement = views.get(replacementId) as PaymentView;
      expect(old.status, role).toBe('cancelled');
      expect(old.amounts.cancelled, role).toBe(old.amount);
      // The reauthorisation the facts held is the machine's now, written in format 2.
      expect(old.facts, role).toMatchObject({
        reauthorizedAs: replacementId,
        reauthorizationOutcome: 'replaced',
      });
      const stored = engineDataOf((await testPortsOf(orchestrator).store.get(old.id))!);
      expect(stored.format, role).toBe(ENGINE_DATA_FORMAT);
      expect(
        Object.keys(stored.facts).filter((name) => name.startsWith('reauthoriz')),
        role,
      ).toEqual([]);
      await expect(
        orchestrator.payments.capture(old.id, { amount: old.amount }),
        role,
      ).rejects.toThrow();
      expect(movements(old.transactionReference, 'cancellation'), role).toHaveLength(1);
      expect(replacement).toMatchObject({ kind: 'duplicate', status: 'authorized' });
      expect(replacement.amounts.authorized).toBe(old.amount);
      expect(duplicatesOf(role), role).toEqual([replacement.transactionReference]);
      expect(
        ledger.countRequests({
          service: 'duplicate',
          transactionReference: replacement.transactionReference,
        }),
        role,
      ).toBe(1);
    }

    // Money as the ledger has it: never authorised twice, captured and refunded as asked.
    const ours = new Set([...views.values()].map((view) => view.transactionReference));
    for (const movement of ledger.movements()) {
      if (movement.kind === 'authorisation' || movement.kind === 'duplicateAuthorisation') {
        expect(ours.has(movement.transactionReference), movement.transactionReference).toBe(true);
      }
    }
    for (const [paymentId, view] of views) {
      const where = `${paymentId} ${view.status} ${JSON.stringify(view.amounts)}`;
      const authorizations = ledger.countAuthorizations(view.transactionReference);
      expect(authorizations, where).toBe(view.amounts.authorized > 0 ? 1 : 0);
      if (AUTHORIZED_ONCE.has(view.status)) expect(authorizations, where).toBe(1);
      if (authorizations > 0) {
        const authorisation = ledger
          .movements(view.transactionReference)
          .find((m) => m.kind === 'authorisation' || m.kind === 'duplicateAuthorisation');
        expect(authorisation?.amount, where).toBe(view.amounts.authorized);
      }
      if (view.captureMode === 'validation') {
        const validations = movements(view.transactionReference, 'validation');
        expect(validations.length, where).toBeLessThanOrEqual(1);
        expect(
          validations.reduce((sum, m) => sum + m.amount, 0),
          where,
        ).toBe(view.amounts.captured);
      }
      const refunded = movements(view.transactionReference, 'refund');
      expect(
        refunded.reduce((sum, m) => sum + m.amount, 0),
        where,
      ).toBe(view.amounts.refunded);
    }
    // The capture the killed worker sent went to Sips once, and was not sent again.
    expect(ledger.countRequests({ service: 'validate', transactionReference: ref('intent') })).toBe(
      1,
    );
    expect(views.get(id('intent'))?.amounts.captured).toBe(2_900);
    expect(movements(ref('deferred'), 'validation').map((m) => m.amount)).toEqual([2_600]);
    expect(movements(ref('refundQueued'), 'refund').map((m) => m.amount)).toEqual([1_000]);
    expect(movements(ref('partial'), 'refund').map((m) => m.amount)).toEqual([1_500, 500]);
    expect(ledger.countAuthorizations(ref('acsAbandons'))).toBe(0);
    expect(views.get(id('auth'))?.status).toBe('authorized');

    // The subscription and the plan, as Sips saw them.
    expect(subscription.status).toBe('active');
    expect(subscription.nextRunAt).toBeDefined();
    for (const occurrence of subscription.occurrences) {
      expect(occurrence.paymentIds, `period ${occurrence.period}`).toHaveLength(1);
      const view = views.get(occurrence.paymentIds[0] as string) as PaymentView;
      expect(ledger.countAuthorizations(view.transactionReference)).toBe(1);
      expect(view.amounts.authorized).toBe(occurrence.amount);
    }
    expect(plan.instalments.map((instalment) => instalment.status)).toEqual([
      'paid',
      'paid',
      'paid',
    ]);
    expect(
      plan.instalments.reduce(
        (sum, instalment) => sum + (views.get(instalment.paymentId)?.amounts.authorized ?? 0),
        0,
      ),
    ).toBe(plan.amount);

    // Work still ahead stays scheduled: the waiting authorisation's capture-limit timers.
    const schedules = await orchestrator.ops.schedules();
    expect(
      schedules.filter((entry) => entry.subject === id('auth')).map((entry) => entry.detail),
    ).toEqual(expect.arrayContaining(['limit_warning', 'limit_policy']));
    // The review was decided once; the old alerts are still there for ops.
    expect((await orchestrator.reviews.get(cases.reviewJobId))?.state).toBe('resolved');
    expect(await orchestrator.reviews.list()).toEqual([]);
    const alerts = await orchestrator.ops.alerts({ limit: 100 });
    for (const role of ['reauthClaimed', 'reauthMade']) {
      expect(
        alerts.some((alert) => alert.paymentId === id(role) && alert.kind === 'capture_limit_near'),
        role,
      ).toBe(true);
    }

    // The merchant's consumer group goes on after the last event it was given.
    const backlog = new Map<number, string[]>();
    const lastDelivered = new Map<number, string>();
    for (const entry of fixture.keys) {
      if (entry.type !== 'stream') continue;
      const group = entry.value.groups.find((g) => g.name === cases.consumerGroup);
      if (!group) continue;
      const shard = Number(/:s(\d+)\}/.exec(entry.key)?.[1]);
      lastDelivered.set(shard, group.lastDeliveredId);
      backlog.set(
        shard,
        entry.value.entries
          .map(([entryId]) => entryId)
          .filter((entryId) => compareStreamIds(entryId, group.lastDeliveredId) > 0),
      );
    }
    expect(lastDelivered.size).toBe(fixture.redis.shards);
    const received: { shard: number; streamId: string; deliveries: number }[] = [];
    await orchestrator.events.subscribe(
      cases.consumerGroup,
      async (_event, delivery) => {
        received.push(delivery);
      },
      { blockMs: 100 },
    );
    const expected = [...backlog.values()].reduce((sum, ids) => sum + ids.length, 0);
    expect(expected).toBeGreaterThan(0);
    await expect
      .poll(() => received.filter((d) => backlog.get(d.shard)?.includes(d.streamId)).length)
      .toBe(expected);
    for (const delivery of received) {
      const last = lastDelivered.get(delivery.shard) as string;
      expect(compareStreamIds(delivery.streamId, last), delivery.streamId).toBeGreaterThan(0);
    }
    const firstDeliveries = received.map((d) => `${d.shard}/${d.streamId}`);
    expect(new Set(firstDeliveries).size).toBe(firstDeliveries.length);
    expect((await scanForCardData(redis, cardData)).findings).toEqual([]);
  }, 120_000);
});

/** The card the fixture's payments were made with (a published test card). */
function testCard() {
  return { number: ACCEPTED_CARD, expiry: EXPIRY, csc: FIXTURE_CSC };
}
