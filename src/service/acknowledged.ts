/**
 * REDIS_DURABILITY=replica for commands: a command is answered only once its
 * writes are held by enough replicas, so an acknowledged command survives a
 * failover. Reads are passed through untouched.
 */

import { CommandError } from '../engine/errors.ts';

type Method = (...args: never[]) => Promise<unknown>;

/**
 * The same commands, each answering only after `confirm` resolves; a command
 * whose writes cannot be confirmed fails with the barrier's error (retryable:
 * sending it again with its idempotency key is safe).
 */
export function acknowledgedDurably<T extends object>(
  commands: T,
  reads: ReadonlyArray<keyof T>,
  confirm: () => Promise<void>,
): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(commands)) {
    if (typeof value !== 'function' || reads.includes(name as keyof T)) {
      wrapped[name] = value;
      continue;
    }
    const method = value as Method;
    wrapped[name] = async (...args: never[]) => {
      const result = await method.apply(commands, args);
      try {
        await confirm();
      } catch (error) {
        // The command is stored and its call may still go out once the
        // replicas catch up: never "nothing happened, try again".
        throw new CommandError(
          'command_not_confirmed',
          `stored, but not confirmed by the replicas: ${(error as Error).message}; read it before sending it again`,
        );
      }
      return result;
    };
  }
  return wrapped as T;
}
