/**
 * Reads every key of a test namespace, whatever its type, and looks for card
 * data in clear: key names, string values, every field and value of hashes
 * (BullMQ job hashes included: `data`, `opts`, `returnvalue`, `stacktrace`,
 * `failedReason`), list elements, set and sorted-set members, and every field
 * of every stream entry.
 *
 * A PAN is looked for as its full digits (also with spaces or dashes between
 * digits taken out). A CSC has too few digits to be searched blindly, so it
 * counts as found when it stands alone, not inside a longer digit run, after
 * values that are random by construction (UUIDs, hex digests, card vault blobs,
 * generated ids and tokens, the namespace itself) are taken out of the text.
 */
import type { Redis } from 'ioredis';

export interface CardDataFinding {
  key: string;
  /** Where in the key: `name`, `value`, `field <f>`, `entry <id> <f>`, `member`, `element <i>`. */
  where: string;
  needle: string;
  context: string;
}

export interface CardDataScan {
  keys: string[];
  /** Keys per Redis type. */
  byType: Record<string, number>;
  streamEntries: number;
  /** BullMQ job hashes (they have `name`, `data` and `opts`). */
  jobHashes: number;
  /** Job hashes where the field is present and not empty (`[]` stacktraces count as empty). */
  jobFields: { data: number; returnvalue: number; stacktrace: number; failedReason: number };
  /** Characters read. */
  bytes: number;
  findings: CardDataFinding[];
}

export interface CardDataScanOptions {
  /** SCAN pattern, e.g. `*<namespace>*`. */
  match: string;
  pans: readonly string[];
  cscs: readonly string[];
  /** Literal strings taken out of the text before the CSC search (e.g. the namespace). */
  literals?: readonly string[];
}

const RANDOM_SHAPES: readonly RegExp[] = [
  // Card vault blobs: v1:<keyId>:<iv>:<tag>:<ciphertext>, base64url.
  /v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+/g,
  /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g,
  // Seals and other digests.
  /[0-9a-fA-F]{32,}/g,
  // Generated ids and tokens: 20 characters of Crockford base32.
  /[0-9A-HJKMNP-TV-Z]{20}/g,
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function contextAround(text: string, index: number, length: number): string {
  return text.slice(Math.max(0, index - 60), Math.min(text.length, index + length + 60));
}

export async function scanForCardData(
  redis: Redis,
  options: CardDataScanOptions,
): Promise<CardDataScan> {
  const report: CardDataScan = {
    keys: [],
    byType: {},
    streamEntries: 0,
    jobHashes: 0,
    jobFields: { data: 0, returnvalue: 0, stacktrace: 0, failedReason: 0 },
    bytes: 0,
    findings: [],
  };
  const cscPatterns = options.cscs.map(
    (csc) => [csc, new RegExp(`(?<!\\d)${escapeRegExp(csc)}(?!\\d)`, 'g')] as const,
  );
  const literals = [...(options.literals ?? [])].sort((a, b) => b.length - a.length);

  function inspect(key: string, where: string, text: string): void {
    report.bytes += text.length;
    const joined = text.replace(/(?<=\d)[ -](?=\d)/g, '');
    for (const pan of options.pans) {
      for (const candidate of joined === text ? [text] : [text, joined]) {
        const index = candidate.indexOf(pan);
        if (index >= 0) {
          report.findings.push({
            key,
            where,
            needle: pan,
            context: contextAround(candidate, index, pan.length),
          });
          break;
        }
      }
    }
    let scrubbed = text;
    for (const literal of literals) scrubbed = scrubbed.split(literal).join(' ');
    for (const shape of RANDOM_SHAPES) scrubbed = scrubbed.replace(shape, ' ');
    for (const [csc, pattern] of cscPatterns) {
      for (const match of scrubbed.matchAll(pattern)) {
        report.findings.push({
          key,
          where,
          needle: csc,
          context: contextAround(scrubbed, match.index, csc.length),
        });
      }
    }
  }

  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', options.match, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) keys.add(key);
  } while (cursor !== '0');
  report.keys = [...keys].sort();

  for (const key of report.keys) {
    const type = await redis.type(key);
    if (type === 'none') continue; // expired meanwhile (locks, markers)
    report.byType[type] = (report.byType[type] ?? 0) + 1;
    inspect(key, 'name', key);
    switch (type) {
      case 'string': {
        inspect(key, 'value', (await redis.get(key)) ?? '');
        break;
      }
      case 'hash': {
        const hash = await redis.hgetall(key);
        for (const [field, value] of Object.entries(hash)) {
          inspect(key, `field name ${field}`, field);
          inspect(key, `field ${field}`, value);
        }
        if ('name' in hash && 'data' in hash && 'opts' in hash) {
          report.jobHashes++;
          for (const field of ['data', 'returnvalue', 'stacktrace', 'failedReason'] as const) {
            const value = hash[field];
            if (value !== undefined && value !== '' && value !== '[]') report.jobFields[field]++;
          }
        }
        break;
      }
      case 'list': {
        const elements = await redis.lrange(key, 0, -1);
        elements.forEach((element, i) => inspect(key, `element ${i}`, element));
        break;
      }
      case 'set': {
        for (const member of await redis.smembers(key)) inspect(key, 'member', member);
        break;
      }
      case 'zset': {
        for (const member of await redis.zrange(key, 0, -1)) inspect(key, 'member', member);
        break;
      }
      case 'stream': {
        const entries = (await redis.xrange(key, '-', '+')) as [string, string[]][];
        for (const [id, fields] of entries) {
          report.streamEntries++;
          for (let i = 0; i < fields.length; i++) {
            inspect(key, `entry ${id} ${i % 2 === 0 ? 'field name' : 'value'}`, fields[i] ?? '');
          }
        }
        break;
      }
      default:
        throw new Error(`key ${key} has type ${type}, which the card data scan cannot read`);
    }
  }
  return report;
}
