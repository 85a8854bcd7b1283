/**
 * Fault injection: what can go wrong between a merchant and Sips, on demand.
 * A fault matches calls (by shop, function, card, amount, reference) and fires
 * for the next N matching calls, or for a share of them drawn from a seeded
 * generator, so a run with the same seed and the same call order fails the
 * same way. Latency faults add up; of the other faults the first one that
 * fires wins.
 */
import { z } from 'zod';
import { normalSample, seededRandom, type Random } from './random.ts';

const latency = z.union([
  z.object({ type: z.literal('latency'), ms: z.number().nonnegative() }),
  z.object({
    type: z.literal('latency'),
    distribution: z.literal('uniform'),
    min: z.number().nonnegative(),
    max: z.number().nonnegative(),
  }),
  z.object({
    type: z.literal('latency'),
    distribution: z.literal('normal'),
    mean: z.number().nonnegative(),
    sd: z.number().nonnegative(),
  }),
]);

const effect = z.union([
  latency,
  /** A sealed technical refusal; the call is not processed. */
  z.object({ type: z.literal('responseCode'), responseCode: z.enum(['90', '99']) }),
  /** Never answer: the socket stays open until the client gives up (or the simulator closes). */
  z.object({ type: z.literal('hang'), afterProcessing: z.boolean().optional() }),
  /** Destroy the connection without an answer (TCP reset). */
  z.object({ type: z.literal('reset'), afterProcessing: z.boolean().optional() }),
  /** An HTML error page with this HTTP status, as a proxy in front of Sips would send. */
  z.object({
    type: z.literal('httpStatus'),
    status: z.number().int().min(400).max(599),
    afterProcessing: z.boolean().optional(),
  }),
  /** Processed; the answer's seal is wrong. */
  z.object({ type: z.literal('corruptSeal') }),
  /** Processed; the answer has no seal. */
  z.object({ type: z.literal('missingSeal') }),
  /**
   * Processed; the answer is replaced by a bare, unsealed refusal with this
   * code (what a forged or tampered answer looks like, e.g. 34 on a payment
   * Sips authorised).
   */
  z.object({ type: z.literal('forgedAnswer'), responseCode: z.string().regex(/^\d\d$/) }),
  /** Processed (store and ledger), then the connection is destroyed: the client cannot know. */
  z.object({ type: z.literal('dropAfterProcessing') }),
]);

export const faultMatchSchema = z
  .object({
    merchantId: z.string().optional(),
    service: z.union([z.string(), z.array(z.string())]).optional(),
    /** Card number in clear, as sent (or as stored for wallet and follow-up calls). */
    pan: z.string().optional(),
    /** amount, or operationAmount for cash management. */
    amount: z.number().int().optional(),
    transactionReference: z.string().optional(),
  })
  .strict();

const trigger = z.object({
  id: z.string().min(1).optional(),
  match: faultMatchSchema.optional(),
  /** Fire for this many matching calls, then disappear. @defaultValue unlimited */
  times: z.number().int().positive().optional(),
  /** Share of matching calls that fire, drawn from the seeded generator. @defaultValue 1 */
  rate: z.number().min(0).max(1).optional(),
  /** Let this many matching calls through first. @defaultValue 0 */
  skip: z.number().int().nonnegative().optional(),
});

export const faultSpecSchema = z.intersection(trigger, effect);

export type FaultEffect = z.infer<typeof effect>;
export type FaultMatch = z.infer<typeof faultMatchSchema>;
export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultType = FaultEffect['type'];

export interface ActiveFault {
  readonly id: string;
  readonly spec: FaultSpec;
  /** Matching calls seen. */
  seen: number;
  /** Times it fired. */
  fired: number;
  /** Firings left, when limited. */
  remaining: number | undefined;
}

/** What a call looks like to the fault matcher. */
export interface FaultSubject {
  service?: string | undefined;
  merchantId?: string | undefined;
  pan?: string | undefined;
  amount?: number | undefined;
  transactionReference?: string | undefined;
}

export interface FaultDecision {
  /** Total simulated latency before answering, ms. */
  latencyMs: number;
  /** The non-latency fault that fired, if any. */
  fault?: ActiveFault;
  /** Ids of the latency faults that fired. */
  latencyFaults: string[];
}

export interface FaultRegistry {
  /** Adds faults (validated); returns their ids. */
  add(specs: FaultSpec | readonly FaultSpec[]): string[];
  remove(id: string): boolean;
  clear(): void;
  list(): ActiveFault[];
  evaluate(subject: FaultSubject): FaultDecision;
}

function matches(match: FaultMatch | undefined, subject: FaultSubject): boolean {
  if (!match) return true;
  if (match.merchantId !== undefined && match.merchantId !== subject.merchantId) return false;
  if (match.service !== undefined) {
    const services = Array.isArray(match.service) ? match.service : [match.service];
    if (subject.service === undefined || !services.includes(subject.service)) return false;
  }
  if (match.pan !== undefined && match.pan !== subject.pan) return false;
  if (match.amount !== undefined && match.amount !== subject.amount) return false;
  if (
    match.transactionReference !== undefined &&
    match.transactionReference !== subject.transactionReference
  ) {
    return false;
  }
  return true;
}

function sampleLatency(spec: FaultSpec, random: Random): number {
  if (spec.type !== 'latency') return 0;
  if ('ms' in spec) return spec.ms;
  if (spec.distribution === 'uniform') {
    const low = Math.min(spec.min, spec.max);
    return low + random.next() * Math.abs(spec.max - spec.min);
  }
  return Math.max(0, normalSample(random, spec.mean, spec.sd));
}

export function parseFaultSpecs(input: unknown): FaultSpec[] {
  const list = Array.isArray(input) ? input : [input];
  return list.map((item) => faultSpecSchema.parse(item));
}

export function createFaultRegistry(initial: readonly FaultSpec[] = [], seed = 1): FaultRegistry {
  const faults: ActiveFault[] = [];
  let random = seededRandom(seed);
  let counter = 0;

  const registry: FaultRegistry = {
    add(specs) {
      const parsed = parseFaultSpecs(specs);
      return parsed.map((spec) => {
        const id = spec.id ?? `fault-${++counter}`;
        const existing = faults.findIndex((fault) => fault.id === id);
        if (existing >= 0) faults.splice(existing, 1);
        faults.push({ id, spec, seen: 0, fired: 0, remaining: spec.times });
        return id;
      });
    },
    remove(id) {
      const index = faults.findIndex((fault) => fault.id === id);
      if (index < 0) return false;
      faults.splice(index, 1);
      return true;
    },
    clear() {
      faults.length = 0;
      // A cleared registry replays the same sequence: tests stay independent of order.
      random = seededRandom(seed);
    },
    list: () => [...faults],
    evaluate(subject) {
      const decision: FaultDecision = { latencyMs: 0, latencyFaults: [] };
      if (faults.length === 0) return decision;
      for (const fault of [...faults]) {
        if (!matches(fault.spec.match, subject)) continue;
        const isLatency = fault.spec.type === 'latency';
        // A terminal fault is only considered while no other terminal fault fired.
        if (!isLatency && decision.fault) continue;
        fault.seen++;
        if (fault.seen <= (fault.spec.skip ?? 0)) continue;
        if (fault.spec.rate !== undefined && random.next() >= fault.spec.rate) continue;
        fault.fired++;
        if (fault.remaining !== undefined) {
          fault.remaining--;
          if (fault.remaining <= 0) registry.remove(fault.id);
        }
        if (isLatency) {
          decision.latencyMs += sampleLatency(fault.spec, random);
          decision.latencyFaults.push(fault.id);
        } else {
          decision.fault = fault;
        }
      }
      return decision;
    },
  };
  registry.add(initial);
  return registry;
}
