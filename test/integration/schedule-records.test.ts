/**
 * The waiting index of schedule records: kept with each write, and paged
 * without skipping records that share a score (written in the same ms).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeyspace } from '../../src/payments/keys.ts';
import { createManualClock, type ManualClock } from '../../src/platform/clock.ts';
import { sequentialIds } from '../../src/platform/ids.ts';
import {
  createRecordStore,
  type RecordStore,
  type VersionedRecord,
  type WaitingCursor,
} from '../../src/schedules/records.ts';
import { openTestNamespace, type TestNamespace } from '../support/namespace.ts';

interface Item extends VersionedRecord {
  waiting: boolean;
}

let t: TestNamespace;
let clock: ManualClock;
let store: RecordStore<Item>;

beforeEach(() => {
  t = openTestNamespace('records');
  clock = createManualClock(1_800_000_000_000);
  store = createRecordStore<Item>({
    redis: t.redis(),
    keyspace: createKeyspace({ prefix: t.ns, shards: 2 }),
    clock,
    ids: sequentialIds('item'),
    kind: 'item',
    idPrefix: 'item',
    waitsOnPayment: (item) => item.waiting,
  });
});

afterEach(async () => {
  await t.close();
});

async function allPages(limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: WaitingCursor | undefined;
  for (let guard = 0; guard < 50; guard++) {
    const page = await store.listWaiting({ limit, ...(after ? { after } : {}) });
    pages.push(page.records.map((record) => record.id));
    if (!page.next) return pages;
    after = page.next;
  }
  throw new Error('paging did not end');
}

describe('the waiting index', () => {
  it('lists the records that wait, with each write, and pages through ties without skipping', async () => {
    const ids: string[] = [];
    // Seven records written in the same millisecond, on both shards.
    for (let k = 0; k < 7; k++) {
      const record = await store.create({ id: store.newId(), waiting: true });
      ids.push(record.id);
    }
    const idle = await store.create({ id: store.newId(), waiting: false });

    const pages = await allPages(3);
    const seen = pages.flat();
    expect(seen.sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(7);
    expect(seen).not.toContain(idle.id);

    // A write that no longer waits leaves the index; one that waits again joins it, later.
    const first = (await store.get(ids[0] as string))!;
    const written = await store.update(first, (record) => ({ ...record, waiting: false }));
    expect(written.ok).toBe(true);
    clock.advance(1_000);
    const idleNow = (await store.get(idle.id))!;
    await store.update(idleNow, (record) => ({ ...record, waiting: true }));
    const after = (await allPages(100)).flat();
    expect(after).not.toContain(ids[0]);
    expect(after.at(-1)).toBe(idle.id);
    expect(after).toHaveLength(7);
  });
});
