/** A delivery job: which message (event, endpoint) of which shard, and which series of it. */
export interface DeliveryJob {
  shard: number;
  endpointId: string;
  eventId: string;
  /** The message's generation the job delivers (0, one more per replay); absent: 0. */
  generation?: number;
}

export interface DeliveryJobSink {
  /** Adds each job once per `jobId`. */
  enqueue(
    shard: number,
    jobs: ReadonlyArray<{ job: DeliveryJob; jobId: string }>,
    options?: { delayMs?: number },
  ): Promise<void>;
}

/** The id of a message's first delivery job; a replay uses another. */
export function deliveryJobId(endpointId: string, eventId: string): string {
  return `wh_${endpointId}_${eventId}`;
}
