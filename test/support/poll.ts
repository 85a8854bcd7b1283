/** Reads until `done` holds, every `intervalMs`; past `timeoutMs`, fails with what was last read. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { timeoutMs: number; describe: (value: T) => string; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(options.describe(value));
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
