/**
 * The step writes, each one script that compare-and-sets on `version`:
 * `writeIntent` records the Sips call about to be sent, `readForCall` reads
 * a payment and writes its first intent in the same step, and `commitStep`
 * stores the machine's new snapshot, clears the intent, moves the status
 * index entry and appends the events to the shard's stream (the outbox: a
 * refused write appends nothing).
 */
import { loadScript, runScript } from './lua.ts';
import {
  checkAmounts,
  checkIntentAmount,
  checkStatus,
  checkTransactionReference,
  decode,
  eventArgs,
  fieldArgs,
  hashOf,
  intentMembers,
  timelineArgs,
  writeResult,
} from './store-codec.ts';
import type {
  CommitStep,
  IntentResult,
  PaymentIntent,
  PaymentRecord,
  StoreContext,
  TimelineEntry,
  WriteResult,
} from './store-types.ts';

const WRITE_INTENT = loadScript(
  'payments.writeIntent',
  new URL('./lua/write-intent.lua', import.meta.url),
);
const READ_FOR_CALL = loadScript(
  'payments.readForCall',
  new URL('./lua/read-for-call.lua', import.meta.url),
);
const COMMIT_STEP = loadScript(
  'payments.commitStep',
  new URL('./lua/commit-step.lua', import.meta.url),
);

export async function writeIntent(
  { redis, keyspace, clock }: StoreContext,
  id: string,
  expectedVersion: number,
  intent: PaymentIntent,
  options: { replacePending?: boolean; timeline?: readonly TimelineEntry[] } = {},
): Promise<IntentResult> {
  checkTransactionReference(intent.transactionReference);
  checkIntentAmount(intent.amount);
  const reply = (await runScript(
    redis,
    WRITE_INTENT,
    [keyspace.paymentKey(id), keyspace.timelineKey(id)],
    [
      String(expectedVersion),
      JSON.stringify(intent),
      clock.now(),
      options.replacePending ? '1' : '0',
      ...timelineArgs(options.timeline),
    ],
  )) as [string, string | number, string?];
  if (reply[0] === 'intent_pending') {
    return {
      ok: false,
      reason: 'intent_pending',
      actualVersion: Number(reply[1]),
      intent: JSON.parse(reply[2] ?? '{}') as PaymentIntent,
    };
  }
  return writeResult(reply);
}

export async function readForCall(
  { redis, keyspace, clock }: StoreContext,
  id: string,
  expectedVersion: number,
  intent: Omit<PaymentIntent, 'transactionReference' | 'answered'>,
): Promise<{ record: PaymentRecord; intentVersion?: number } | undefined> {
  checkIntentAmount(intent.amount);
  const [flat, intentVersion] = (await runScript(
    redis,
    READ_FOR_CALL,
    [keyspace.paymentKey(id)],
    [String(expectedVersion), clock.now(), ...intentMembers(intent)],
  )) as [string[], number | undefined];
  if (flat.length === 0) return undefined;
  const record = decode(hashOf(flat), []);
  return intentVersion === undefined
    ? { record }
    : { record, intentVersion: Number(intentVersion) };
}

export async function commitStep(
  { redis, keyspace, clock, maxLen }: StoreContext,
  id: string,
  expectedVersion: number,
  step: CommitStep,
): Promise<WriteResult> {
  checkStatus(step.status);
  if (step.currentStatus !== undefined) checkStatus(step.currentStatus);
  checkAmounts(step.amounts);
  if (step.transactionReference !== undefined) {
    checkTransactionReference(step.transactionReference);
  }
  const shard = keyspace.shardOf(id);
  const cardAction = step.card === undefined ? 'keep' : step.card === null ? 'erase' : 'set';
  const reply = await runScript(
    redis,
    COMMIT_STEP,
    [
      keyspace.paymentKey(id),
      keyspace.timelineKey(id),
      keyspace.eventsStream(shard),
      ...(step.currentStatus === undefined
        ? keyspace.statusIndexKeys(shard)
        : [
            keyspace.statusIndexKey(shard, step.currentStatus),
            keyspace.statusIndexKey(shard, step.status),
          ]),
    ],
    [
      String(expectedVersion),
      step.status,
      clock.now(),
      maxLen,
      step.clearIntent === false ? '0' : '1',
      cardAction,
      typeof step.card === 'string' ? step.card : '',
      ...fieldArgs({
        snapshot: JSON.stringify(step.snapshot),
        amounts: JSON.stringify(step.amounts),
        machineVersion: step.machineVersion,
        transactionReference: step.transactionReference,
        engine: step.engine,
      }),
      ...timelineArgs(step.timeline),
      ...eventArgs(step.events ?? [], id, expectedVersion + 1),
    ],
  );
  return writeResult(reply);
}
