/**
 * The janitor's retention of the event streams on a real Redis: entries go
 * once they are older than the retention and every consumer group is past
 * them, never before; a stream near its cap raises one ops alert an hour,
 * naming the group that holds it back.
 */
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyspace, type Keyspace } from '../../src/payments/keys.ts';
import { createManualClock } from '../../src/platform/clock.ts';
import { createAlerts, type Alerts } from '../../src/schedules/alerts.ts';
import { keepEventStreams } from '../../src/schedules/stream-retention.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

const HOUR = 3_600_000;
let t: TestNamespace;
let redis: Redis;
let keyspace: Keyspace;
let alerts: Alerts;
let stream: string;
let serverNow: number;

beforeEach(async () => {
  t = openTestNamespace('retention');
  redis = t.redis();
  keyspace = createKeyspace({ prefix: t.ns, shards: 1 });
  alerts = createAlerts({ redis, keyspace, clock: createManualClock(Date.now()) });
  stream = keyspace.eventsStream(0);
  const [seconds] = await redis.time();
  serverNow = Number(seconds) * 1_000;
  // Two days, thirty hours and one hour old.
  for (const age of [48 * HOUR, 30 * HOUR, HOUR]) {
    await redis.xadd(stream, `${serverNow - age}-0`, 'event', '{}');
  }
});

afterEach(async () => {
  await t.close();
});

const ids = async () => (await redis.xrange(stream, '-', '+')).map(([id]) => id);

describe('event stream retention', () => {
  it('trims a stream without groups by age alone', async () => {
    const report = await keepEventStreams({ redis, keyspace, alerts });
    expect(report).toEqual({ trimmed: 2, nearCap: [] });
    expect(await ids()).toEqual([`${serverNow - HOUR}-0`]);
  });

  it('keeps what a consumer group has not acknowledged, however old', async () => {
    await redis.xgroup('CREATE', stream, 'slow', '0');
    // The group read the two oldest and acknowledged only the first.
    await redis.xreadgroup('GROUP', 'slow', 'c1', 'COUNT', 2, 'STREAMS', stream, '>');
    await redis.xack(stream, 'slow', `${serverNow - 48 * HOUR}-0`);
    expect((await keepEventStreams({ redis, keyspace, alerts })).trimmed).toBe(1);
    expect(await ids()).toEqual([`${serverNow - 30 * HOUR}-0`, `${serverNow - HOUR}-0`]);

    // A group that has read nothing holds everything.
    await redis.xgroup('CREATE', stream, 'new', '0');
    await redis.xack(stream, 'slow', `${serverNow - 30 * HOUR}-0`);
    expect((await keepEventStreams({ redis, keyspace, alerts })).trimmed).toBe(0);
    expect(await ids()).toHaveLength(2);
  });

  it('alerts once an hour when a stream nears its cap, naming the group that holds it', async () => {
    await redis.xgroup('CREATE', stream, 'stuck', '0');
    const options = { maxLen: 5, alertShare: 0.8 };
    expect((await keepEventStreams({ redis, keyspace, alerts }, options)).nearCap).toEqual([]);
    await redis.xadd(stream, '*', 'event', '{}');
    expect((await keepEventStreams({ redis, keyspace, alerts }, options)).nearCap).toEqual([0]);
    expect((await keepEventStreams({ redis, keyspace, alerts }, options)).nearCap).toEqual([0]);
    const raised = await alerts.list();
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ kind: 'event_stream_near_cap', subject: stream });
    expect(raised[0]?.message).toContain('"stuck"');
    expect(raised[0]?.message).toContain('cap of 5');
  });
});
