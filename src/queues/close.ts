/**
 * Closing BullMQ workers without hanging. A graceful close waits for the jobs
 * in flight (their calls finish and are stored), then says QUIT on every
 * connection. After a failover a cluster connection may hold a QUIT for a
 * node that is gone, forever (commands wait for a reconnection): past the
 * grace period the connections are cut, which ends those waits.
 */
import type { Worker } from 'bullmq';
import type { Logger } from '../platform/logger.ts';
import type { RedisClient } from '../platform/redis.ts';

/** How long jobs in flight may take to finish before the connections are cut. @defaultValue 30 s */
export const DEFAULT_CLOSE_GRACE_MS = 30_000;

/** True when `work` settled within `ms`; false when the time ran out first. */
export function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function closeWorkers(
  workers: readonly Worker[],
  connections: readonly RedisClient[],
  options: { logger: Logger; graceMs?: number; what: string },
): Promise<void> {
  const closing = Promise.all(workers.map((worker) => worker.close()));
  if (!(await settledWithin(closing, options.graceMs ?? DEFAULT_CLOSE_GRACE_MS))) {
    options.logger.warn(
      { workers: options.what },
      'workers did not close in time: cutting their connections',
    );
    for (const connection of connections) connection.disconnect();
    // BullMQ's own connections (the blocking one) too. Not awaited: its
    // disconnect waits for an `end` event that a connection cut above may
    // already have sent, and would wait forever.
    for (const worker of workers) void worker.disconnect().catch(() => undefined);
    await settledWithin(closing, 5_000);
  }
  for (const connection of connections) connection.disconnect();
}
