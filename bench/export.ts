/**
 * The export section: payments written straight into the store (the create
 * script, many in flight on one auto-pipelined connection: not through the
 * pipeline), then all of them exported as CSV through the real HTTP route
 * of an API child process, read here as a stream and counted, never kept.
 *
 * Reported: rows/s and MB/s of the export, the child's RSS before the
 * exports, its largest RSS (sampled every 10 ms) while exporting a tenth of
 * the payments and then all of them, the growth, the process's own maxRSS
 * and the size of the CSV. The export holds one
 * batch of 500 records, one batch of index entries per shard and the
 * stream's 16 KiB buffer at a time, so the growth stays flat however many
 * payments there are: it must stay well under the size of the file.
 */
import { Redis } from 'ioredis';
import { request } from 'undici';
import { createKeyspace } from '../src/payments/keys.ts';
import { createPaymentStore } from '../src/payments/store.ts';
import { sequentialIds } from '../src/platform/ids.ts';
import { jsonLine, startTsChild, type BenchChild } from './children.ts';
import { deleteRunKeys, mb } from './pipeline.ts';

export interface ExportOptions {
  redisUrl: string;
  prefix: string;
  payments: number;
  shards: number;
  log(message: string): void;
}

const STATUSES = ['authorized', 'captured', 'refused', 'partially_refunded'] as const;
const IN_FLIGHT = 500;

/** The first payment's createdAt; each next one 1 ms later. */
const SEED_START = Date.UTC(2025, 0, 1);

/** One CSV export through the route, read as a stream and counted; the API's RSS sampled every 10 ms. */
async function exportCsv(api: BenchChild, url: string, filters: string) {
  let peak = api.rssMb();
  const sampler = setInterval(() => {
    peak = Math.max(peak, api.rssMb());
  }, 10);
  const started = performance.now();
  const response = await request(`${url}/v1/payments/export?format=csv${filters}`, {
    headers: { authorization: 'Bearer bench-secret' },
  });
  let bytes = 0;
  let lines = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, api.rssMb());
  return {
    status: response.statusCode,
    rows: lines - 1,
    seconds: Number(seconds.toFixed(2)),
    rowsPerSecond: Math.round((lines - 1) / seconds),
    csvMb: mb(bytes),
    mbPerSecond: Number((bytes / 2 ** 20 / seconds).toFixed(1)),
    peakMb: Number(peak.toFixed(1)),
  };
}

async function seed(redis: Redis, options: ExportOptions): Promise<number> {
  const keyspace = createKeyspace({ prefix: options.prefix, shards: options.shards });
  let now = SEED_START;
  const store = createPaymentStore({ redis, keyspace, clock: { now: () => now++ } });
  const ids = sequentialIds('exp');
  const started = performance.now();
  let next = 0;
  const writer = async () => {
    while (next < options.payments) {
      const i = next++;
      const status = STATUSES[i % STATUSES.length] as (typeof STATUSES)[number];
      const paid = status === 'refused' ? 0 : 2500;
      await store.create({
        id: keyspace.newPaymentId(ids),
        machineVersion: 'card@1',
        kind: 'card',
        status,
        amount: 2500,
        currency: '978',
        captureMode: 'author_capture',
        amounts: {
          authorized: paid,
          captured: status === 'authorized' ? 0 : paid,
          cancelled: 0,
          refunded: status === 'partially_refunded' ? 1000 : 0,
        },
        snapshot: { value: status, context: {} },
        maskedPan: '4000##########02',
        merchant: { id: 'default', orderId: `order-${i}`, customerId: `customer-${i % 1000}` },
        transactionReference: `EXP${i}`,
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, writer));
  return (performance.now() - started) / 1000;
}

export async function measureExport(options: ExportOptions) {
  const redis = new Redis(options.redisUrl, { enableAutoPipelining: true });
  const api = startTsChild(
    'export-api',
    'bench/export-api-child.ts',
    {
      BENCH_REDIS_URL: options.redisUrl,
      BENCH_PREFIX: options.prefix,
      BENCH_SHARDS: String(options.shards),
    },
    ['--expose-gc'],
  );
  try {
    const url = await api.waitForLine((line) => jsonLine(line)?.url as string | undefined);
    options.log(`export: seeding ${options.payments} payments`);
    const seedSeconds = await seed(redis, options);
    const rss = () =>
      api.waitForLine((line) => {
        const value = jsonLine(line);
        return value?.rssMb === undefined
          ? undefined
          : (value as { rssMb: number; maxRssMb: number; heapUsedMb: number });
      });
    api.process.stdin?.write('rss\n');
    const before = await rss();
    // A tenth of the payments first (the oldest), then all of them: a bounded
    // export peaks at about the same RSS for both.
    const tenth = await exportCsv(
      api,
      url,
      `&createdTo=${new Date(SEED_START + Math.floor(options.payments / 10)).toISOString()}`,
    );
    const full = await exportCsv(api, url, '');
    api.process.stdin?.write('rss\n');
    const after = await rss();
    return {
      payments: options.payments,
      shards: options.shards,
      status: full.status,
      rows: full.rows,
      rowsMatchPayments: full.rows === options.payments,
      seedSeconds: Number(seedSeconds.toFixed(2)),
      seedPaymentsPerSecond: Math.round(options.payments / seedSeconds),
      seconds: full.seconds,
      rowsPerSecond: full.rowsPerSecond,
      csvMb: full.csvMb,
      mbPerSecond: full.mbPerSecond,
      apiRssBeforeMb: before.rssMb,
      apiPeakRssTenthMb: tenth.peakMb,
      tenthRows: tenth.rows,
      apiPeakRssFullMb: full.peakMb,
      apiRssGrowthMb: Number((full.peakMb - before.rssMb).toFixed(1)),
      apiPeakGrowthFromTenthToFullMb: Number((full.peakMb - tenth.peakMb).toFixed(1)),
      apiMaxRssMb: after.maxRssMb,
      apiHeapAfterGcBeforeMb: before.heapUsedMb,
      apiHeapAfterGcAfterMb: after.heapUsedMb,
    };
  } finally {
    await api.stop();
    if (!process.env.BENCH_KEEP_KEYS) await deleteRunKeys(redis, options.prefix);
    redis.disconnect();
  }
}
