/**
 * Model-based tests: xstate/graph walks every machine with representative
 * events, and every path and every edge is replayed through the public
 * startPayment/stepPayment (JSON snapshots) with the step invariants checked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { transition, type AnyMachineSnapshot } from 'xstate';
import { getShortestPaths, getSimplePaths, getStateNodes } from 'xstate/graph';
import {
  PAYMENT_KINDS,
  PAYMENT_STATUSES,
  type CaptureMode,
  type Effect,
  type PaymentEvent,
  type PaymentEventType,
  type PaymentKind,
  type PaymentStatus,
  type PersistedSnapshot,
} from '../../machines/contract.ts';
import { startPayment, statusOf, stepPayment } from '../../machines/index.ts';
import { CARD_DATA_BY_KIND, PAYMENT_FLOWS } from '../../machines/model.ts';
import { EFFECT_ACTIONS, PAYMENT_MACHINES } from '../../machines/payment-machine.ts';
import {
  checkStep,
  inputFor,
  peek,
  representativeEvents,
  type Position,
} from './machines.support.ts';

const CAPTURE_MODES: readonly CaptureMode[] = ['validation', 'author_capture'];

const ALL_EVENT_TYPES: readonly PaymentEventType[] = [
  'capture',
  'cancel',
  'refund',
  'accept_challenge',
  'refuse_challenge',
  'sips.accepted',
  'sips.declined',
  'sips.unavailable',
  'sips.unknown',
  'sips.conflict',
  'sips.untrusted',
  'customer.returned',
  'customer.abandoned',
  'inquiry.found',
  'inquiry.not_found',
  'inquiry.exhausted',
  'review.adopt',
  'review.mark',
  'timer.capture',
  'timer.limit_warning',
  'timer.limit_policy',
  'reauthorization.made',
  'reauthorization.refused',
  'reauthorization.settled',
];

/** Capture-limit events: a VALIDATION authorisation's only. */
const limitEvent = (type: PaymentEventType): boolean =>
  type.startsWith('timer.') || type.startsWith('reauthorization.');

function topStatus(value: unknown): PaymentStatus {
  return (typeof value === 'string' ? value : Object.keys(value as object)[0]) as PaymentStatus;
}

function stateId(value: unknown): string {
  if (typeof value === 'string') return `payment.${value}`;
  const [[parent, child]] = Object.entries(value as Record<string, string>) as [[string, string]];
  return `payment.${parent}.${child}`;
}

function effectsOfActions(actions: readonly { type: string; params?: unknown }[]): Effect[] {
  return actions
    .filter((action) => EFFECT_ACTIONS.has(action.type))
    .map((action) => ({ type: action.type, ...(action.params ?? {}) }) as Effect);
}

function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

interface Reached {
  position: Position;
  machineState: AnyMachineSnapshot;
}

/** Replays `events` through the public API, checking every step; returns where it ends. */
function replay(kind: PaymentKind, captureMode: CaptureMode, events: PaymentEvent[]): Position[] {
  const start = startPayment(inputFor(kind, captureMode));
  const positions: Position[] = [start];
  let current: Position = start;
  for (const event of events) {
    const outcome = stepPayment(current.snapshot, event);
    checkStep(current, event, outcome);
    if (!outcome.accepted) throw new Error(`${event.type} rejected: ${outcome.reason}`);
    current = outcome;
    positions.push(current);
  }
  return positions;
}

function explore(kind: PaymentKind, captureMode: CaptureMode): Reached[] {
  const machine = PAYMENT_MACHINES[kind];
  const paths = getShortestPaths(machine, {
    input: inputFor(kind, captureMode),
    events: (snapshot) => representativeEvents(snapshot),
  });
  return paths.map((path) => {
    const events = path.steps.slice(1).map((step) => step.event);
    const positions = replay(kind, captureMode, events);
    const end = positions.at(-1);
    if (end === undefined) throw new Error('empty path');
    // The public API lands exactly where the graph says.
    expect(peek(end.snapshot).value).toEqual(path.state.value);
    expect(peek(end.snapshot).context).toEqual(plain(path.state.context));
    return { position: end, machineState: path.state };
  });
}

const reachedStatuses = new Set<PaymentStatus>();

describe.each(PAYMENT_KINDS.flatMap((kind) => CAPTURE_MODES.map((mode) => [kind, mode] as const)))(
  '%s (%s): every reachable state, every edge',
  (kind, captureMode) => {
    const machine = PAYMENT_MACHINES[kind];
    let reached: Reached[] = [];

    it('replays the shortest path to every reachable state with the invariants', () => {
      reached = explore(kind, captureMode);
      expect(reached.length).toBeGreaterThan(50);
      for (const { position } of reached) {
        expect(PAYMENT_STATUSES).toContain(statusOf(position.snapshot));
        reachedStatuses.add(position.status);
      }
    });

    it('reaches every state node of the machine (no dead states)', () => {
      const atomic = getStateNodes(machine.root)
        .filter((node) => node.type === 'atomic')
        .map((node) => node.id)
        // AUTHOR_CAPTURE: Sips remits by itself, no capture is ever sent.
        .filter((id) => captureMode === 'validation' || id !== 'payment.capturing');
      const visited = new Set(reached.map(({ machineState }) => stateId(machineState.value)));
      expect([...visited].sort()).toEqual(atomic.sort());
    });

    it('keeps the invariants on every edge; a JSON snapshot behaves like the live one', () => {
      const acceptedTypes = new Set<PaymentEventType>();
      let edges = 0;
      for (const { position, machineState } of reached) {
        const restored = plain(position.snapshot) as PersistedSnapshot;
        for (const event of representativeEvents(machineState)) {
          const outcome = stepPayment(restored, event);
          checkStep(position, event, outcome);
          // The live snapshot, never serialised, gives the same answer.
          expect(machineState.can(event)).toBe(outcome.accepted);
          if (outcome.accepted) {
            const [next, actions] = transition(machine, machineState, event);
            expect(outcome.effects).toEqual(plain(effectsOfActions(actions)));
            expect(peek(outcome.snapshot).value).toEqual(next.value);
            acceptedTypes.add(event.type);
            edges += 1;
          }
        }
      }
      expect(edges).toBeGreaterThan(reached.length);
      const redirect = PAYMENT_FLOWS[kind].redirect;
      const expected = ALL_EVENT_TYPES.filter(
        (type) =>
          (redirect || !type.startsWith('customer.')) &&
          (captureMode === 'validation' || (type !== 'capture' && !limitEvent(type))),
      );
      expect([...acceptedTypes].sort()).toEqual([...expected].sort());
    });

    it('final statuses accept nothing but news of a new authorisation awaited', () => {
      const final = reached.filter(({ position }) =>
        ['refused', 'failed', 'expired', 'cancelled', 'refunded'].includes(position.status),
      );
      expect(final.length).toBeGreaterThan(0);
      for (const { position, machineState } of final) {
        const awaited = peek(position.snapshot).context.limit?.reauthorization?.phase;
        for (const event of representativeEvents(machineState)) {
          if (!stepPayment(position.snapshot, event).accepted) continue;
          // The old payment may have lapsed or been released while the new one was made.
          expect(event.type).toMatch(/^reauthorization\./);
          expect(['claimed', 'made']).toContain(awaited);
        }
      }
    });
  },
);

describe('across kinds', () => {
  it('every status is reachable by some kind', () => {
    expect([...reachedStatuses].sort()).toEqual([...PAYMENT_STATUSES].sort());
  });
});

const SETTLED = new Set<PaymentStatus>([
  'authorized',
  'captured',
  'partially_refunded',
  'refunded',
  'cancelled',
  'refused',
  'failed',
  'expired',
  'in_review',
]);

describe.each(PAYMENT_KINDS)('%s: every simple path to a settled authorisation', (kind) => {
  it('forgets the CSC exactly once, with the answer that settles the authorisation', () => {
    const machine = PAYMENT_MACHINES[kind];
    const paths = getSimplePaths(machine, {
      input: inputFor(kind),
      events: (snapshot) => representativeEvents(snapshot),
      stopWhen: (snapshot) => SETTLED.has(topStatus(snapshot.value)),
    });
    expect(paths.length).toBeGreaterThan(10);
    const holdsCsc = CARD_DATA_BY_KIND[kind].csc;
    for (const path of paths) {
      const events = path.steps.slice(1).map((step) => step.event);
      const positions = replay(kind, 'validation', events);
      const end = positions.at(-1);
      if (end === undefined) throw new Error('empty path');
      const forgetsCsc = (position: Position) =>
        'effects' in position &&
        (position.effects as Effect[]).some(
          (effect) => effect.type === 'forget' && effect.what === 'csc',
        );
      const forgetting = positions.filter(forgetsCsc);
      if (holdsCsc && SETTLED.has(end.status)) {
        // Exactly once, by the very step that settled the authorisation.
        expect(forgetting).toEqual([end]);
      } else {
        expect(forgetting).toEqual([]);
      }
    }
  });
});

describe('random walks (long paths: several partial operations, retries, inquiries)', () => {
  it.each(PAYMENT_KINDS)(
    '%s: invariants hold along any sequence of representative events',
    (kind) => {
      fc.assert(
        fc.property(
          fc.constantFrom(...CAPTURE_MODES),
          fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
          (captureMode, choices) => {
            let current: Position = startPayment(inputFor(kind, captureMode));
            let cscForgotten = 0;
            for (const choice of choices) {
              const events = representativeEvents(peek(current.snapshot));
              const event = events[choice % events.length];
              if (event === undefined) throw new Error('no events');
              const outcome = stepPayment(current.snapshot, event);
              checkStep(current, event, outcome);
              if (outcome.accepted) {
                cscForgotten += outcome.effects.filter(
                  (effect) => effect.type === 'forget' && effect.what === 'csc',
                ).length;
                current = outcome;
              }
            }
            expect(cscForgotten).toBeLessThanOrEqual(1);
            expect(PAYMENT_STATUSES).toContain(statusOf(current.snapshot));
          },
        ),
        { numRuns: 300, seed: 20260115 },
      );
    },
  );
});
