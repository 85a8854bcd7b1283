/**
 * The places of the first-attempt pool (first-attempts.ts), per shard. The
 * fan-out asks for a place per new message and sends the message itself when
 * it gets one, or gives it a job when it does not:
 *
 * - a full pool makes the fan-out wait, up to `maxWaitMs`, for a place to
 *   free: a receiver that is slow but answers keeps its backlog in the event
 *   stream, where it costs nothing, not in jobs. After a wait that found no
 *   place, the next messages do not wait until a place frees again, so a
 *   pool held by receivers slow to answer costs the stream one wait, not
 *   one per message;
 * - an endpoint holds at most `perEndpoint` places, and one whose first
 *   attempt just failed gets jobs for `coolMs`: a receiver that does not
 *   answer cannot hold the pool, nor the reading of the streams.
 */
export interface Places {
  /** A place in `shard`'s pool for a message to `endpointId`; false: give the message a job. */
  take(shard: number, endpointId: string): Promise<boolean>;
  give(shard: number, endpointId: string): void;
  /** A first attempt to the endpoint failed: its messages get jobs for a while. */
  cool(endpointId: string): void;
  /** A first attempt to the endpoint succeeded. */
  warm(endpointId: string): void;
}

export function createPlaces(options: {
  /** Places per shard. */
  concurrency: number;
  /** Places one endpoint may hold per shard. @defaultValue half the pool */
  perEndpoint?: number;
  /** @defaultValue 250 ms */
  maxWaitMs?: number;
  /** @defaultValue 10 s */
  coolMs?: number;
  wallClock: () => number;
}): Places {
  const { concurrency, wallClock } = options;
  const perEndpoint = options.perEndpoint ?? Math.max(1, Math.ceil(concurrency / 2));
  const maxWaitMs = options.maxWaitMs ?? 250;
  const coolMs = options.coolMs ?? 10_000;
  const taken = new Map<number, number>();
  const byEndpoint = new Map<string, number>();
  const coolingUntil = new Map<string, number>();
  const waiters = new Map<number, Array<() => void>>();
  /** Shards whose last wait found no place, until one frees. */
  const starved = new Set<number>();
  const placesTaken = (shard: number) => taken.get(shard) ?? 0;
  const heldBy = (key: string) => byEndpoint.get(key) ?? 0;

  /** Resolves true when a place of the shard frees, false after `ms`. */
  const placeFreed = (shard: number, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const queue = waiters.get(shard) ?? [];
      waiters.set(shard, queue);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const at = queue.indexOf(wake);
        if (at >= 0) queue.splice(at, 1);
        resolve(false);
      }, ms);
      queue.push(wake);
    });

  return {
    async take(shard, endpointId) {
      if ((coolingUntil.get(endpointId) ?? 0) > wallClock()) return false;
      const key = `${shard} ${endpointId}`;
      const deadline = wallClock() + maxWaitMs;
      for (;;) {
        if (heldBy(key) >= perEndpoint) return false;
        if (placesTaken(shard) < concurrency) {
          taken.set(shard, placesTaken(shard) + 1);
          byEndpoint.set(key, heldBy(key) + 1);
          return true;
        }
        const left = deadline - wallClock();
        if (starved.has(shard) || left <= 0) return false;
        if (!(await placeFreed(shard, left))) {
          starved.add(shard);
          return false;
        }
      }
    },
    give(shard, endpointId) {
      const key = `${shard} ${endpointId}`;
      taken.set(shard, Math.max(0, placesTaken(shard) - 1));
      starved.delete(shard);
      const held = heldBy(key) - 1;
      if (held > 0) byEndpoint.set(key, held);
      else byEndpoint.delete(key);
      waiters.get(shard)?.shift()?.();
    },
    cool(endpointId) {
      coolingUntil.set(endpointId, wallClock() + coolMs);
    },
    warm(endpointId) {
      coolingUntil.delete(endpointId);
    },
  };
}
