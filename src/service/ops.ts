/** What ops people ask of the orchestrator: alerts, a janitor pass, what runs later. */
import type { Queue } from 'bullmq';
import type { Keyspace } from '../payments/keys.ts';
import type { JanitorReport, OpsAlert, Schedules } from '../schedules/index.ts';

/** Something that will run later: a delayed job or a job scheduler's next run. */
export interface ScheduledItem {
  kind:
    'timer' | 'inquiry' | 'abandon' | 'occurrence' | 'retry' | 'instalment' | 'janitor' | 'other';
  jobId: string;
  runAt: string;
  /** The payment, subscription or plan it belongs to. */
  subject?: string;
  detail?: string;
}

export interface OpsCommands {
  alerts(options?: { limit?: number }): Promise<OpsAlert[]>;
  /** One janitor pass now (it also runs on its schedule). */
  runJanitor(): Promise<JanitorReport>;
  /** Delayed jobs and job schedulers: deferred captures, capture limits, occurrences, instalments. */
  schedules(options?: { limit?: number }): Promise<ScheduledItem[]>;
}

export function createOpsCommands(
  keyspace: Keyspace,
  schedules: Pick<Schedules, 'alerts' | 'runJanitor'>,
  queuesOf: (shard: number) => Queue[],
): OpsCommands {
  return {
    alerts: (options) => schedules.alerts.list(options),
    runJanitor: () => schedules.runJanitor(),
    async schedules(options = {}) {
      const limit = options.limit ?? 200;
      const items: ScheduledItem[] = [];
      for (const shard of keyspace.allShards) {
        for (const queue of queuesOf(shard)) {
          const delayed = await queue.getDelayed(0, limit - 1);
          for (const job of delayed) {
            if (!job) continue;
            items.push(scheduledItemOf(job.id ?? '', job.timestamp + (job.delay ?? 0), job.data));
          }
        }
      }
      return items.sort((a, b) => a.runAt.localeCompare(b.runAt)).slice(0, limit);
    },
  };
}

function scheduledItemOf(jobId: string, runAt: number, data: unknown): ScheduledItem {
  const job = (data ?? {}) as Record<string, unknown>;
  const task = String(job.task ?? '');
  const item: ScheduledItem = {
    kind: 'other',
    jobId,
    runAt: new Date(runAt).toISOString(),
  };
  const subject = job.paymentId ?? job.subscriptionId ?? job.planId;
  if (typeof subject === 'string') item.subject = subject;
  if (task === 'timer') {
    item.kind = 'timer';
    item.detail = String(job.timer);
  } else if (task === 'inquire') item.kind = 'inquiry';
  else if (task === 'abandon') item.kind = 'abandon';
  else if (task === 'occurrence') item.kind = 'occurrence';
  else if (task === 'retry') {
    item.kind = 'retry';
    item.detail = `period ${String(job.period)}, attempt ${String(job.attempt)}`;
  } else if (task === 'instalment') {
    item.kind = 'instalment';
    item.detail = `instalment ${Number(job.index) + 1}`;
  } else if (task === 'janitor') item.kind = 'janitor';
  return item;
}
