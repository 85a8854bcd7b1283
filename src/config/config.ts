/**
 * The only reader of process.env. One zod schema turns the environment into a
 * frozen Config; a bad value stops start-up with a message naming every wrong
 * variable, never echoing a secret.
 */
import { z } from 'zod';
import { PAYMENT_STATUSES, type PaymentStatus } from '../../machines/contract.ts';
import { DURABILITY_MODES, parseClusterNodes } from '../platform/redis.ts';

/** Delays before each attempt of a webhook message: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_RETRY_SCHEDULE_MS = [
  0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
] as const;

const SECRET_VARIABLES = new Set(['SIPS_SECRET_KEY', 'CARD_VAULT_KEYS', 'API_KEYS']);

const whole = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const flag = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no'])
  .transform((value) => value === '1' || value === 'true' || value === 'yes');

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const durationList = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const parts = value.split(',').map((part) => part.trim());
    const out: number[] = [];
    for (const part of parts) {
      const match = /^(\d+)(ms|s|m|h|d)$/.exec(part);
      if (!match) {
        ctx.addIssue({ code: 'custom', message: `"${part}" is not a duration like 10s, 5m, 1h` });
        return z.NEVER;
      }
      out.push(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
    }
    return out;
  });

const oneDuration = durationList.refine((list) => list.length === 1, 'one duration, e.g. 15m');

const oneSecondOrMore = oneDuration.refine(([ms]) => (ms ?? 0) >= 1_000, 'at least 1s');

const EnvSchema = z.object({
  SIPS_ENV: z.string().trim().default('simulator'),
  SIPS_BASE_URL: z.string().trim().optional(),
  SIPS_MERCHANT_ID: z.string().trim().optional(),
  SIPS_SECRET_KEY: z.string().optional(),
  SIPS_KEY_VERSION: z.string().trim().optional(),
  SIPS_INTERFACE_VERSION: z
    .string()
    .trim()
    .regex(/^\d+\.\d+$/, 'must look like 2.55')
    .default('2.55'),
  SIPS_TIMEOUT_MS: whole(100, 600_000).default(30_000),
  SIPS_ALLOW_UNSEALED_RESPONSES: flag.default(false),
  /** A JSON file listing the shops served (src/config/merchants.ts); without it the SIPS_* variables are the shop `default`. */
  MERCHANTS_FILE: z.string().trim().optional(),
  REDIS_URL: z.string().trim().optional(),
  /** `host:port,host:port`: a Redis Cluster (instead of REDIS_URL). */
  REDIS_CLUSTER_NODES: z
    .string()
    .trim()
    .transform((value, ctx) => {
      try {
        return parseClusterNodes(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  /** How a call's intent survives Redis: replica, fsync, verify or none (default: none in the simulator, verify elsewhere). */
  REDIS_DURABILITY: z.enum(DURABILITY_MODES).optional(),
  /** replica: how many replicas must hold an intent, and how long to wait for them. */
  REDIS_WAIT_REPLICAS: whole(1, 16).default(1),
  REDIS_WAIT_TIMEOUT: oneDuration.default([1_000]),
  /** How long start-up waits for Redis (or the cluster) to answer before it gives up. */
  REDIS_CONNECT_TIMEOUT: oneDuration.default([10_000]),
  /** Accept an unsafe REDIS_DURABILITY outside the simulator, by naming it. */
  REDIS_DURABILITY_ALLOW_UNSAFE: z.enum(DURABILITY_MODES).optional(),
  /** fsync where CONFIG is disabled: the operator asserts appendonly yes + appendfsync always. */
  REDIS_FSYNC_ASSERTED: flag.default(false),
  DATA_DIR: z.string().trim().default('./data'),
  SHARDS: whole(1, 1024).default(1),
  KEY_PREFIX: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]+$/, 'lowercase letters, digits and dashes only')
    .default('sog'),
  CARD_VAULT_KEYS: z.string().optional(),
  CARD_VAULT_ACTIVE_KEY: z.string().trim().optional(),
  /** `npm start` runs the step workers in its process (0: API only). */
  WORKERS: flag.default(true),
  WORKER_CONCURRENCY: whole(1, 10_000).default(200),
  RETRY_ATTEMPTS: whole(1, 50).default(6),
  RETRY_BASE_MS: whole(1, 3_600_000).default(1_000),
  RETRY_MAX_MS: whole(1, 86_400_000).default(60_000),
  /** How often stalled jobs of dead workers are picked up again, and how long a job lock lasts. */
  STALLED_INTERVAL_MS: whole(100, 3_600_000).default(30_000),
  LOCK_DURATION_MS: whole(100, 3_600_000).default(30_000),
  INQUIRY_SCHEDULE: durationList.default([10_000, 60_000, 300_000, 3_600_000, 21_600_000]),
  /**
   * How long a create's Idempotency-Key is remembered (payments, duplicates,
   * subscriptions, plans): a retry within it is a replay, after it a new record.
   */
  IDEMPOTENCY_KEY_TTL: oneSecondOrMore.default([86_400_000]),
  /**
   * A refund while Sips has not remitted the payment (it refunds remitted
   * transactions only): `cancel` that amount, or `hold` it until remittance.
   */
  REFUND_BEFORE_REMITTANCE: z.enum(['cancel', 'hold']).default('cancel'),
  /** `name:secret:scope|scope,...` with scopes payments and ops; a dev key is used in the simulator when unset. */
  API_KEYS: z.string().optional(),
  /** How long a customer may stay at the ACS or the provider page. */
  AUTHENTICATION_TIMEOUT: oneDuration.default([900_000]),
  /** VALIDATION authorisations: warn (event and ops alert) this long before the capture limit. */
  CAPTURE_LIMIT_WARN_BEFORE: oneDuration.default([86_400_000]),
  /** ...and apply the policy this long before it. */
  CAPTURE_LIMIT_ACT_BEFORE: oneDuration.default([21_600_000]),
  /** The policy of payments that chose none: capture, cancel, reauthorize or none (alert only). */
  CAPTURE_LIMIT_POLICY: z.enum(['capture', 'cancel', 'reauthorize', 'none']).default('none'),
  /** How many times `reauthorize` renews one payment's authorisation before it only alerts. */
  CAPTURE_LIMIT_MAX_REAUTHORIZATIONS: whole(0, 100).default(6),
  /** How often the janitor runs (0s: never on its own). */
  JANITOR_INTERVAL: oneDuration.default([60_000]),
  /** Per-status thresholds, e.g. `authorizing=5m,outcome_unknown=30m`, over the defaults. */
  JANITOR_THRESHOLDS: z
    .string()
    .trim()
    .transform((value, ctx) => {
      const out: Partial<Record<PaymentStatus, number>> = {};
      for (const part of value.split(',').map((entry) => entry.trim())) {
        const match = /^([a-z_]+)=(\d+)(ms|s|m|h|d)$/.exec(part);
        if (!match || !(PAYMENT_STATUSES as readonly string[]).includes(match[1] as string)) {
          ctx.addIssue({
            code: 'custom',
            message: `"${part}" is not status=duration, e.g. authorizing=5m`,
          });
          return z.NEVER;
        }
        out[match[1] as PaymentStatus] = Number(match[2]) * (UNIT_MS[match[3] as string] as number);
      }
      return out;
    })
    .optional(),
  /** A payment stuck this long that Sips cannot clarify goes to manual review. */
  JANITOR_ESCALATE_AFTER: oneDuration.default([21_600_000]),
  /**
   * What a process that runs workers runs: `steps` (payments, schedules, the
   * janitor) and `webhooks` (delivery), comma-separated.
   */
  WORKER_ROLES: z
    .string()
    .trim()
    .transform((value, ctx) => {
      const roles = value.split(',').map((role) => role.trim());
      const unknown = roles.filter((role) => role !== 'steps' && role !== 'webhooks');
      if (unknown.length > 0 || roles.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'is a list of steps and webhooks, e.g. steps,webhooks',
        });
        return z.NEVER;
      }
      return { steps: roles.includes('steps'), webhooks: roles.includes('webhooks') };
    })
    .default({ steps: true, webhooks: true }),
  /** Loopback, private and link-local receivers (default: allowed with the simulator only). */
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: flag.optional(),
  /** http:// receivers (default: allowed with the simulator only; https elsewhere). */
  WEBHOOK_ALLOW_HTTP: flag.optional(),
  /** Delays before each attempt of a message; the message fails after the last. */
  WEBHOOK_RETRY_SCHEDULE: durationList.default([...DEFAULT_RETRY_SCHEDULE_MS]),
  /** An endpoint failing this long without one delivery is disabled (ops alert). */
  WEBHOOK_DISABLE_AFTER: oneDuration.default([5 * 86_400_000]),
  /** How long a rotated-out signing secret keeps signing beside the new one. */
  WEBHOOK_SECRET_OVERLAP: oneDuration.default([86_400_000]),
  WEBHOOK_MAX_ENDPOINTS: whole(1, 1_000).default(16),
  /** How long the delivery log keeps a message. */
  WEBHOOK_LOG_RETENTION: oneDuration.default([30 * 86_400_000]),
  /** Deliveries in flight per shard and process. */
  WEBHOOK_CONCURRENCY: whole(1, 10_000).default(50),
  /** Events a delivering process took and did not finish (it died) are taken over after this. */
  WEBHOOK_CLAIM_IDLE: oneDuration.default([30_000]),
  WEBHOOK_CONNECT_TIMEOUT: oneDuration.default([5_000]),
  /** The receiver's whole answer, once connected. */
  WEBHOOK_RESPONSE_TIMEOUT: oneDuration.default([15_000]),
  /** The whole request, headers and body, must arrive within this; then 408 and the connection closes. */
  HTTP_REQUEST_TIMEOUT: oneSecondOrMore.default([30_000]),
  /** The request line and headers must arrive within this (at most HTTP_REQUEST_TIMEOUT). */
  HTTP_HEADERS_TIMEOUT: oneSecondOrMore.default([10_000]),
  /** An idle keep-alive connection is closed after this. */
  HTTP_KEEP_ALIVE_TIMEOUT: oneSecondOrMore.default([5_000]),
  /** Connections open at once on the API; more are closed as they arrive. */
  HTTP_MAX_CONNECTIONS: whole(1, 1_000_000).default(1024),
  /** Requests per RATE_LIMIT_WINDOW per API key (per address without a known key); 0: no limit. */
  RATE_LIMIT: whole(0, 100_000_000).default(600),
  RATE_LIMIT_WINDOW: oneSecondOrMore.default([60_000]),
  HOST: z.string().trim().default('127.0.0.1'),
  PORT: whole(0, 65_535).default(3000),
  /** workers/main.ts serves GET /metrics on HOST:METRICS_PORT (unset: no metrics server). */
  METRICS_PORT: whole(0, 65_535).optional(),
  PUBLIC_URL: z.string().trim().url('must be a URL').optional(),
  SIMULATOR_PORT: whole(0, 65_535).default(7070),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // OpenTelemetry tracing (read by the SDK itself; see tracingRequested): checked here.
  OTEL_SDK_DISABLED: flag.optional(),
  OTEL_TRACES_EXPORTER: z
    .string()
    .trim()
    .regex(/^[a-z]+(,[a-z]+)*$/, 'a comma-separated list: otlp, console, zipkin, none')
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().trim().url('must be a URL').optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().trim().url('must be a URL').optional(),
  OTEL_SERVICE_NAME: z.string().trim().optional(),
});

/**
 * Whether the standard OTEL_* variables ask for traces: OTEL_TRACES_EXPORTER
 * set (and not `none`), or an OTLP endpoint given; OTEL_SDK_DISABLED=true
 * turns it off. Never throws: a wrong value is reported by loadConfig.
 */
export function tracingRequested(env: Readonly<Record<string, string | undefined>> = process.env): {
  enabled: boolean;
  serviceName?: string;
} {
  const value = (name: string): string => env[name]?.trim() ?? '';
  const exporters = value('OTEL_TRACES_EXPORTER').toLowerCase();
  const enabled =
    !['true', '1', 'yes'].includes(value('OTEL_SDK_DISABLED').toLowerCase()) &&
    !exporters.split(',').includes('none') &&
    (exporters !== '' ||
      value('OTEL_EXPORTER_OTLP_ENDPOINT') !== '' ||
      value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') !== '');
  return value('OTEL_SERVICE_NAME') === ''
    ? { enabled, serviceName: 'sogenactif-orchestrator' }
    : { enabled };
}

export type Config = Readonly<z.output<typeof EnvSchema>>;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration; throws ConfigError naming every wrong variable. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Config {
  // Empty variables count as unset, as a shell user expects of `FOO= npm start`.
  const present = Object.fromEntries(
    Object.entries(env).filter(([name, value]) => name in EnvSchema.shape && value !== ''),
  );
  const parsed = EnvSchema.safeParse(present);
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '?');
        const message = SECRET_VARIABLES.has(name) ? 'is not valid' : issue.message;
        return `${name}: ${message}`;
      });
  // Checked on the raw values too, so one run names every wrong variable.
  if (present.SIPS_ENV?.trim() === 'production') {
    for (const name of [
      'SIPS_MERCHANT_ID',
      'SIPS_SECRET_KEY',
      'SIPS_KEY_VERSION',
      'CARD_VAULT_KEYS',
      'API_KEYS',
    ] as const) {
      if (!present[name]?.trim()) problems.push(`${name}: is required when SIPS_ENV=production`);
    }
  }
  if (!parsed.success) throw new ConfigError(problems);
  const config = parsed.data;
  if (config.REDIS_URL && config.REDIS_CLUSTER_NODES) {
    problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  }
  if (config.RETRY_MAX_MS < config.RETRY_BASE_MS) {
    problems.push('RETRY_MAX_MS: must not be below RETRY_BASE_MS');
  }
  if ((config.HTTP_HEADERS_TIMEOUT[0] ?? 0) > (config.HTTP_REQUEST_TIMEOUT[0] ?? 0)) {
    problems.push('HTTP_HEADERS_TIMEOUT: must not be above HTTP_REQUEST_TIMEOUT');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}
