/**
 * Answering a connection later: simulated latency waits on timers (never the
 * CPU) and is released at once when the simulator closes; an answer is only
 * written while its socket is still there, and a reset destroys the socket
 * without an answer.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface Delays {
  /** Resolves after `ms`, or at once when released. */
  wait(ms: number): Promise<void>;
  /** Ends every wait now (close() does not wait for delayed answers). */
  releaseAll(): void;
}

export function createDelays(): Delays {
  const pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  return {
    wait(ms) {
      if (ms <= 0) return Promise.resolve();
      return new Promise((resolve) => {
        const entry = {
          timer: setTimeout(() => {
            pending.delete(entry);
            resolve();
          }, ms),
          resolve,
        };
        pending.add(entry);
      });
    },
    releaseAll() {
      for (const entry of pending) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      pending.clear();
    },
  };
}

/** The client went away (or the socket was destroyed): nothing can be written. */
export function isGone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

/** Destroys the connection without an answer (TCP reset). */
export function resetConnection(res: ServerResponse): void {
  const socket = res.socket as Socket | null;
  if (socket && !socket.destroyed) socket.resetAndDestroy();
}

/** Writes the answer after `latencyMs`, unless the connection is gone by then. */
export async function answerLater(
  delays: Delays,
  res: ServerResponse,
  latencyMs: number,
  write: (res: ServerResponse) => void,
): Promise<void> {
  await delays.wait(latencyMs);
  if (!isGone(res)) write(res);
}
