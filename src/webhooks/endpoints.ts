/**
 * Webhook endpoints: where a merchant's events go. Records live under the
 * first shard's hash tag (`{<prefix>:s0}:webhooks:…`, so a replica barrier on
 * that shard covers them), written by one Lua script with their
 * indexes; every write bumps a version that delivery processes compare
 * before they trust their in-memory copy, so an endpoint created, changed
 * or disabled is seen by the next event without a restart.
 */
import { loadScript, runScript, type RedisClient } from '../payments/lua.ts';
import type { Clock } from '../platform/clock.ts';
import type { IdGenerator } from '../platform/ids.ts';
import { CommandError } from '../engine/errors.ts';

/** How far the clocks of two processes may differ: events newer than a check minus this make a read. */
const CLOCK_SKEW_MS = 2_000;
/** How long a checked copy is trusted for older events. */
const TRUST_CHECKED_MS = 1_000;

/** Every event type, in `eventTypes`. */
export const ALL_EVENT_TYPES = '*';

export interface SealedSecret {
  /** The secret sealed by the secret box (never in clear in Redis). */
  sealed: string;
  createdAt: number;
  /** A secret replaced by a rotation signs until then (the overlap). */
  expiresAt?: number;
}

export type DisabledReason = 'gone' | 'failing' | 'merchant';

export interface WebhookEndpoint {
  id: string;
  merchant: string;
  url: string;
  /** Types sent, or `['*']` for all. */
  eventTypes: string[];
  enabled: boolean;
  description?: string;
  /** Why delivery stopped on its own (410 Gone, failing for days); absent when a person disabled it. */
  disabledReason?: DisabledReason;
  /** Newest first: the first signs alone, the others until they expire. */
  secrets: SealedSecret[];
  createdAt: number;
  updatedAt: number;
  version: number;
}

export interface EndpointStore {
  /** Throws `webhook_endpoint_limit` when the merchant has `maxPerMerchant` endpoints. */
  create(
    fields: Omit<WebhookEndpoint, 'id' | 'createdAt' | 'updatedAt' | 'version'>,
  ): Promise<WebhookEndpoint>;
  get(id: string): Promise<WebhookEndpoint | undefined>;
  /** Newest first. */
  list(): Promise<WebhookEndpoint[]>;
  /**
   * Applies `change` to the endpoint as stored (again when another write
   * came first); `undefined` from `change` writes nothing. Resolves to the
   * endpoint as it then is, or undefined when there is none.
   */
  change(
    id: string,
    change: (endpoint: WebhookEndpoint) => WebhookEndpoint | undefined,
  ): Promise<WebhookEndpoint | undefined>;
  remove(id: string): Promise<boolean>;
  /**
   * The endpoints as of the last write (one read of the version when nothing
   * changed). With `asOf` (the time an event was written, ms), a copy checked
   * well after that time, and less than a second ago, is trusted without a
   * read: it holds every endpoint that existed when the event was written.
   */
  current(asOf?: number): Promise<EndpointSnapshot>;
  /**
   * When the endpoint started failing (its first failed attempt since the
   * last delivery): kept beside the record, so failures and deliveries do
   * not make every process reload the endpoints.
   */
  failingSince(ids: readonly string[]): Promise<Map<string, number>>;
  /** Records a failed attempt at `at`; answers since when the endpoint fails. */
  markFailing(id: string, at: number): Promise<number>;
  /** A delivery (or a person's fix): the endpoint no longer fails. */
  clearFailing(id: string): Promise<void>;
  /**
   * Whether this caller is the one to disable the endpoint (and tell ops):
   * one claim a minute, so concurrent deliveries tell once, and a claimer
   * that died is replaced.
   */
  claimDisabling(id: string): Promise<boolean>;
}

export interface EndpointSnapshot {
  byId: ReadonlyMap<string, WebhookEndpoint>;
  byMerchant: ReadonlyMap<string, readonly WebhookEndpoint[]>;
}

const WRITE = loadScript(
  'webhook-endpoint-write',
  new URL('./lua/endpoint-write.lua', import.meta.url),
);
const WRITE_ATTEMPTS = 8;
const ENDPOINT_ID = /^we_[A-Za-z0-9]{1,64}$/;

export function isEndpointId(value: string): boolean {
  return ENDPOINT_ID.test(value);
}

export function createEndpointStore(options: {
  redis: RedisClient;
  /** The hash tag the endpoints live under. */
  hashTag: string;
  clock: Clock;
  ids: IdGenerator;
  maxPerMerchant: number;
}): EndpointStore {
  const { redis, clock } = options;
  const tag = `${options.hashTag}:webhooks`;
  const keys = {
    endpoint: (id: string) => `${tag}:endpoint:${id}`,
    merchant: (merchant: string) => `${tag}:merchant:${merchant}`,
    all: `${tag}:endpoints`,
    version: `${tag}:version`,
    failing: (id: string) => `${tag}:failing:${id}`,
    disabling: (id: string) => `${tag}:disabling:${id}`,
  };
  const write = (
    op: 'create' | 'update' | 'delete',
    endpoint: WebhookEndpoint,
    expected: number,
  ): Promise<unknown> =>
    runScript(
      redis,
      WRITE,
      [keys.endpoint(endpoint.id), keys.merchant(endpoint.merchant), keys.all, keys.version],
      [
        op,
        endpoint.id,
        JSON.stringify(endpoint),
        expected,
        options.maxPerMerchant,
        endpoint.createdAt,
      ],
    );

  const get = async (id: string): Promise<WebhookEndpoint | undefined> => {
    if (!isEndpointId(id)) return undefined;
    const text = await redis.get(keys.endpoint(id));
    return text === null ? undefined : (JSON.parse(text) as WebhookEndpoint);
  };

  const list = async (): Promise<WebhookEndpoint[]> => {
    const ids = await redis.zrevrange(keys.all, 0, -1);
    if (ids.length === 0) return [];
    const texts = await redis.mget(...ids.map(keys.endpoint));
    return texts.flatMap((text) => (text ? [JSON.parse(text) as WebhookEndpoint] : []));
  };

  const current = snapshotsOf({ clock, list, readVersion: () => redis.get(keys.version) });

  return {
    async create(fields) {
      const now = clock.now();
      const endpoint: WebhookEndpoint = {
        ...fields,
        id: options.ids.next('we'),
        createdAt: now,
        updatedAt: now,
        version: 1,
      };
      const result = await write('create', endpoint, 0);
      if (result === 'limit') {
        throw new CommandError(
          'webhook_endpoint_limit',
          `merchant ${endpoint.merchant} already has ${options.maxPerMerchant} webhook endpoints (WEBHOOK_MAX_ENDPOINTS)`,
          { field: 'merchant' },
        );
      }
      if (result !== 'ok') throw new Error(`webhook endpoint ${endpoint.id} could not be stored`);
      return endpoint;
    },
    get,
    list,
    async change(id, change) {
      for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        const current = await get(id);
        if (!current) return undefined;
        const next = change(current);
        if (!next) return current;
        const stored = { ...next, version: current.version + 1, updatedAt: clock.now() };
        const result = await write('update', stored, current.version);
        if (result === 'ok') return stored;
        if (result === 'missing') return undefined;
      }
      throw new CommandError('webhook_endpoint_busy', `webhook endpoint ${id} is being changed`);
    },
    async remove(id) {
      for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
        const current = await get(id);
        if (!current) return false;
        const result = await write('delete', current, current.version);
        if (result === 'ok') {
          await redis.del(keys.failing(id));
          return true;
        }
        if (result === 'missing') return false;
      }
      throw new CommandError('webhook_endpoint_busy', `webhook endpoint ${id} is being changed`);
    },
    async failingSince(ids) {
      const found = new Map<string, number>();
      if (ids.length === 0) return found;
      const values = await redis.mget(...ids.map(keys.failing));
      values.forEach((value, index) => {
        if (value !== null) found.set(ids[index] as string, Number(value));
      });
      return found;
    },
    async markFailing(id, at) {
      // SET NX GET: the first failure's time stays; one round trip.
      const before = (await redis.set(keys.failing(id), String(at), 'NX', 'GET')) as string | null;
      return before === null ? at : Number(before);
    },
    async clearFailing(id) {
      await redis.del(keys.failing(id));
    },
    async claimDisabling(id) {
      return (await redis.set(keys.disabling(id), '1', 'PX', 60_000, 'NX')) === 'OK';
    },
    current,
  };
}

/**
 * The endpoints as a delivering process holds them: reloaded when the stored
 * version moved, the version read per call unless `asOf` allows the copy
 * (see EndpointStore.current).
 */
function snapshotsOf(source: {
  clock: Clock;
  list(): Promise<WebhookEndpoint[]>;
  readVersion(): Promise<string | null>;
}): (asOf?: number) => Promise<EndpointSnapshot> {
  const { clock } = source;
  let snapshot: (EndpointSnapshot & { version: string | null }) | undefined;
  /** When the version last matched `snapshot` (clock ms). */
  let checkedAt = Number.NEGATIVE_INFINITY;
  let reloading: { version: string | null; done: Promise<EndpointSnapshot> } | undefined;
  const reload = async (version: string | null, at: number): Promise<EndpointSnapshot> => {
    const endpoints = await source.list();
    const byMerchant = new Map<string, WebhookEndpoint[]>();
    for (const endpoint of endpoints) {
      const mine = byMerchant.get(endpoint.merchant) ?? [];
      mine.push(endpoint);
      byMerchant.set(endpoint.merchant, mine);
    }
    const loaded = { version, byId: new Map(endpoints.map((e) => [e.id, e])), byMerchant };
    // A slower reload of an older version never replaces a newer one.
    if (!snapshot || Number(version ?? 0) >= Number(snapshot.version ?? 0)) {
      snapshot = loaded;
      checkedAt = at;
    }
    return loaded;
  };

  return async (asOf) => {
    const now = clock.now();
    // An event is matched against endpoints that include every change
    // written before it: the version is read unless the copy was checked
    // after the event (by more than the clocks of two processes may
    // differ), and recently, so a backlog does not run on old settings.
    if (
      snapshot &&
      asOf !== undefined &&
      asOf + CLOCK_SKEW_MS < checkedAt &&
      now - checkedAt < TRUST_CHECKED_MS
    ) {
      return snapshot;
    }
    const version = await source.readVersion();
    if (snapshot && snapshot.version === version) {
      checkedAt = now;
      return snapshot;
    }
    if (reloading?.version !== version) {
      const done = reload(version, now).finally(() => {
        if (reloading?.done === done) reloading = undefined;
      });
      reloading = { version, done };
    }
    return reloading.done;
  };
}
