/**
 * A small seeded generator (mulberry32) so fault rates and latency
 * distributions repeat exactly from one run to the next with the same seed.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return {
    next() {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** A normal sample (Box–Muller), using two uniform draws. */
export function normalSample(random: Random, mean: number, sd: number): number {
  const u1 = Math.max(random.next(), Number.EPSILON);
  const u2 = random.next();
  return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
