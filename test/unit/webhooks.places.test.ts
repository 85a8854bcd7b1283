/** The first-attempt pool's places: waiting for one, the cap per endpoint, cooling. */
import { describe, expect, it } from 'vitest';
import { createPlaces } from '../../src/webhooks/places.ts';

function places(changes: Partial<Parameters<typeof createPlaces>[0]> = {}) {
  const wall = { now: 1_000 };
  const pool = createPlaces({
    concurrency: 2,
    maxWaitMs: 200,
    wallClock: () => wall.now,
    ...changes,
  });
  return { pool, wall };
}

describe('the places of the first-attempt pool', () => {
  it('waits for a place to free when the pool is full, and gives up after the wait', async () => {
    const { pool } = places({ perEndpoint: 2 });
    expect(await pool.take(0, 'we_a')).toBe(true);
    expect(await pool.take(0, 'we_b')).toBe(true);
    // Full: the next one waits, and gets the place given back meanwhile.
    const waiting = pool.take(0, 'we_c');
    setTimeout(() => pool.give(0, 'we_a'), 20);
    expect(await waiting).toBe(true);
    // Full again, and nothing frees: the wait ends with no place.
    const started = Date.now();
    expect(await places({ maxWaitMs: 30 }).pool.take(0, 'we_a')).toBe(true);
    const { pool: small } = places({ concurrency: 1, maxWaitMs: 30 });
    expect(await small.take(0, 'we_a')).toBe(true);
    expect(await small.take(0, 'we_b')).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    // After a wait that found nothing, the next ones do not wait, until a place frees.
    const again = Date.now();
    expect(await small.take(0, 'we_c')).toBe(false);
    expect(Date.now() - again).toBeLessThan(25);
    small.give(0, 'we_a');
    expect(await small.take(0, 'we_c')).toBe(true);
    const waitsAgain = Date.now();
    expect(await small.take(0, 'we_d')).toBe(false);
    expect(Date.now() - waitsAgain).toBeGreaterThanOrEqual(25);
    // Shards have pools of their own.
    expect(await small.take(1, 'we_b')).toBe(true);
  });

  it('gives one endpoint at most its share of the pool, without waiting', async () => {
    const { pool } = places({ concurrency: 4 });
    expect(await pool.take(0, 'we_slow')).toBe(true);
    expect(await pool.take(0, 'we_slow')).toBe(true);
    // Half the pool: the third is refused at once, the others still get places.
    const started = Date.now();
    expect(await pool.take(0, 'we_slow')).toBe(false);
    expect(Date.now() - started).toBeLessThan(100);
    expect(await pool.take(0, 'we_other')).toBe(true);
    pool.give(0, 'we_slow');
    expect(await pool.take(0, 'we_slow')).toBe(true);
  });

  it('sends an endpoint whose first attempt failed to jobs for a while', async () => {
    const { pool, wall } = places({ coolMs: 10_000 });
    pool.cool('we_down');
    expect(await pool.take(0, 'we_down')).toBe(false);
    wall.now += 10_001;
    expect(await pool.take(0, 'we_down')).toBe(true);
    pool.give(0, 'we_down');
    pool.cool('we_down');
    pool.warm('we_down');
    expect(await pool.take(0, 'we_down')).toBe(true);
  });
});
