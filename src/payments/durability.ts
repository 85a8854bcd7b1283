/**
 * How far a call's intent is trusted to survive Redis (REDIS_DURABILITY).
 *
 * The engine writes an intent before every Sips call and never resends a
 * call whose intent it finds: that is the whole no-double-charge promise. It
 * holds only if the intent survives. An acknowledged write can still vanish:
 * `appendfsync everysec` loses up to a second on power loss, and a replica
 * promoted after a failover may not have received the last writes. A
 * deployment picks one protection:
 *
 * - `replica`: after the intent, WAIT until `waitReplicas` replicas hold it;
 *   if they do not in time, the call is not sent and the job retries later.
 * - `fsync`: every server runs `appendonly yes` + `appendfsync always`, so an
 *   acknowledged write is on disk (checked at start-up).
 * - `verify`: before each call Sips does not deduplicate, the transaction is
 *   read at Sips and the call is sent only if Sips still shows what our
 *   record expects (src/engine/send-guard.ts). Needs nothing from Redis.
 * - `none`: development only.
 */
import type { Cluster, Redis } from 'ioredis';
import {
  DURABILITY_MODES,
  isCluster,
  serverName,
  untilReady,
  writableServers,
  type DurabilityMode,
  type RedisClient,
} from '../platform/redis.ts';
import { PaymentsError } from './errors.ts';
import type { Keyspace } from './keys.ts';

export { DURABILITY_MODES, type DurabilityMode };

export interface DurabilitySettings {
  mode: DurabilityMode;
  /** `replica`: how many replicas must hold a write. @defaultValue 1 */
  waitReplicas?: number;
  /** `replica`: how long to wait for them. @defaultValue 1 000 ms */
  waitTimeoutMs?: number;
}

/**
 * Resolves once every write made so far to a payment's shard is held by
 * enough replicas; rejects with `writes_not_replicated` otherwise.
 */
export interface WriteBarrier {
  confirm(paymentId: string): Promise<void>;
  confirmShard(shard: number): Promise<void>;
}

/** Time a round may take beyond the WAIT timeout (network, the marker write). */
const ROUND_MARGIN_MS = 1_000;

interface ShardRounds {
  inFlight: Promise<void> | undefined;
  queued: Promise<void> | undefined;
}

/**
 * WAIT counts the replicas that reached the replication offset of the
 * connection's own last write, and replication offsets only grow. So a
 * barrier connection of its own writes a marker in the shard's slot (same
 * master as the payment) and WAITs: that covers every write the master
 * acknowledged before the marker, whichever connection made it. Requests
 * that arrive while a round is in flight share the next round, so a burst
 * of intents costs one WAIT, and the shared connection is never blocked.
 */
export function createWriteBarrier(
  connection: RedisClient,
  keyspace: Keyspace,
  settings: Required<Omit<DurabilitySettings, 'mode'>>,
): WriteBarrier {
  const rounds = new Map<number, ShardRounds>();
  const { waitReplicas, waitTimeoutMs } = settings;

  /** The marker and its WAIT, sent together so that they reach the same master. */
  async function markAndWait(marker: string) {
    const replies = await connection
      .pipeline()
      .incr(marker)
      .wait(waitReplicas, waitTimeoutMs)
      .exec();
    const failed = replies?.find(([error]) => error !== null)?.[0];
    return { replies, failed };
  }

  /**
   * A round never waits longer than WAIT itself could: a connection that is
   * offline would otherwise hold the call (and every caller of the shard)
   * until it reconnects, long after the job's lock may have passed to
   * another worker.
   */
  function round(shard: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new PaymentsError(
              'writes_not_replicated',
              `no answer to WAIT for shard ${shard} within ${waitTimeoutMs + ROUND_MARGIN_MS} ms`,
            ),
          ),
        waitTimeoutMs + ROUND_MARGIN_MS,
      );
    });
    return Promise.race([waitRound(shard), deadline]).finally(() => clearTimeout(timer));
  }

  async function waitRound(shard: number): Promise<void> {
    const marker = `${keyspace.hashTag(shard)}:durability:marker`;
    let { replies, failed } = await markAndWait(marker);
    // After a failover a pipeline may reach the old master's replacement's
    // old address: learn the new slot map, then try once more.
    for (
      let retry = 0;
      retry < 3 && failed && isRedirection(failed) && isCluster(connection);
      retry++
    ) {
      await new Promise<void>((resolveRefresh) => {
        (connection as Cluster).refreshSlotsCache(() => resolveRefresh());
      });
      ({ replies, failed } = await markAndWait(marker));
    }
    if (!replies || failed) {
      throw new PaymentsError(
        'writes_not_replicated',
        `could not confirm the writes of shard ${shard}: ${failed?.message ?? 'no answer'}`,
        failed ? { cause: failed } : {},
      );
    }
    const held = Number(replies[1]?.[1]);
    if (!(held >= waitReplicas)) {
      throw new PaymentsError(
        'writes_not_replicated',
        `${held} of ${waitReplicas} replica(s) held the writes of shard ${shard} within ${waitTimeoutMs} ms`,
        { details: { shard, held, waitReplicas, waitTimeoutMs } },
      );
    }
  }

  function start(shard: number, state: ShardRounds): Promise<void> {
    const running: Promise<void> = round(shard).finally(() => {
      if (state.inFlight === running) state.inFlight = undefined;
    });
    state.inFlight = running;
    return running;
  }

  function confirmShard(shard: number): Promise<void> {
    let state = rounds.get(shard);
    if (!state) {
      state = { inFlight: undefined, queued: undefined };
      rounds.set(shard, state);
    }
    const inFlight = state.inFlight;
    if (!inFlight) return start(shard, state);
    // A round in flight may have sent its marker before our write: wait for the next one.
    let queued = state.queued;
    if (!queued) {
      const current = state;
      queued = inFlight
        .then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          current.queued = undefined;
          return start(shard, current);
        });
      current.queued = queued;
    }
    return queued;
  }

  return {
    confirm: (paymentId) => confirmShard(keyspace.shardOf(paymentId)),
    confirmShard,
  };
}

/** MOVED, ASK, or a cluster that is electing a master: the slot map must be read again. */
function isRedirection(error: Error): boolean {
  return /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/.test(error.message);
}

export interface DurabilityCheck extends DurabilitySettings {
  /** Outside the simulator environment unsafe modes are refused unless allowed by name. */
  production: boolean;
  /** The mode the operator accepts although it is unsafe here (REDIS_DURABILITY_ALLOW_UNSAFE). */
  allowUnsafe?: DurabilityMode;
  /** The operator asserts appendonly yes + appendfsync always where CONFIG is disabled (REDIS_FSYNC_ASSERTED). */
  fsyncAsserted?: boolean;
  /** Where the servers come from, for messages: `REDIS_URL` or `REDIS_CLUSTER_NODES`. */
  setting: string;
  /** Neither the connection nor a server query waits longer. @defaultValue 5 000 ms */
  timeoutMs?: number;
}

export interface DurabilityReport {
  mode: DurabilityMode;
  servers: Array<{
    server: string;
    replicasOnline: number;
    appendonly?: string;
    appendfsync?: string;
  }>;
  /** Accepted although unsafe: logged at start-up. */
  warnings: string[];
}

function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function replicasOnline(info: string): number {
  return info.split('\n').filter((line) => /^slave\d+:.*state=online/.test(line.trim())).length;
}

async function configValue(server: Redis, name: string): Promise<string> {
  const reply = (await server.config('GET', name)) as string[];
  return String(reply[1] ?? '');
}

/**
 * Checks at start-up that the servers can honour the mode, and refuses an
 * unsafe combination outside the simulator unless the operator names it in
 * REDIS_DURABILITY_ALLOW_UNSAFE. Every problem is named in one error.
 */
export async function checkDurability(
  connection: RedisClient,
  check: DurabilityCheck,
): Promise<DurabilityReport> {
  const timeoutMs = check.timeoutMs ?? 5_000;
  const waitReplicas = check.waitReplicas ?? 1;
  await untilReady(connection, timeoutMs, check.setting);
  const servers = writableServers(connection);
  const problems: string[] = [];
  const unsafe: string[] = [];
  const report: DurabilityReport = { mode: check.mode, servers: [], warnings: [] };
  for (const server of servers) {
    const name = serverName(server);
    const info = await withDeadline(
      server.info('replication'),
      timeoutMs,
      `${check.setting}: INFO at ${name}`,
    );
    const entry: DurabilityReport['servers'][number] = {
      server: name,
      replicasOnline: replicasOnline(info),
    };
    report.servers.push(entry);
    if (check.mode === 'replica' && entry.replicasOnline < waitReplicas) {
      problems.push(
        `REDIS_DURABILITY=replica needs REDIS_WAIT_REPLICAS=${waitReplicas} replica(s) online at ${name}; it has ${entry.replicasOnline}`,
      );
    }
    if (check.mode === 'fsync') {
      try {
        entry.appendonly = await withDeadline(configValue(server, 'appendonly'), timeoutMs, name);
        entry.appendfsync = await withDeadline(configValue(server, 'appendfsync'), timeoutMs, name);
      } catch (error) {
        if (!check.fsyncAsserted) {
          problems.push(
            `REDIS_DURABILITY=fsync: CONFIG GET is refused at ${name} (${(error as Error).message}); make sure it runs appendonly yes and appendfsync always, then set REDIS_FSYNC_ASSERTED=1`,
          );
        }
        continue;
      }
      if (entry.appendonly !== 'yes' || entry.appendfsync !== 'always') {
        problems.push(
          `REDIS_DURABILITY=fsync needs appendonly yes and appendfsync always at ${name}; it runs appendonly ${entry.appendonly}, appendfsync ${entry.appendfsync}`,
        );
      }
      if (entry.replicasOnline > 0 || servers.length > 1) {
        unsafe.push(
          `REDIS_DURABILITY=fsync with replicas at ${name}: a failover may promote a replica that lacks the last acknowledged writes (use replica)`,
        );
      }
    }
  }
  if (check.mode === 'none') {
    unsafe.push('REDIS_DURABILITY=none: a write Redis loses can make a money call go out twice');
  }
  if (problems.length > 0) {
    throw new PaymentsError('durability_config_invalid', problems.join('; '), {
      details: { problems },
    });
  }
  if (unsafe.length > 0) {
    if (check.production && check.allowUnsafe !== check.mode) {
      throw new PaymentsError(
        'durability_config_invalid',
        `${unsafe.join('; ')}. Refused outside the simulator; set REDIS_DURABILITY_ALLOW_UNSAFE=${check.mode} to accept the risk`,
        { details: { unsafe } },
      );
    }
    report.warnings.push(...unsafe);
  }
  return report;
}
