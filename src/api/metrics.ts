/**
 * Prometheus metrics: Sips calls by service and responseCode, their latency,
 * retries, step and schedule queue depths, the review backlog, the HTTP
 * requests of the API by route pattern, and the go-live figures the
 * Sogenactif documentation asks merchants to watch (acceptance rate = answers
 * 00 over all authorisation answers; technical refusals 90/97/99, fraud 34,
 * too many attempts 75).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SipsResult } from '../sips/result.ts';
import { credentialsRefusal } from '../sips/translate.ts';
import type { ApiPorts } from './ports.ts';
import type { EndpointBacklog } from '../orchestrator-webhooks.ts';
import type { Orchestrator } from '../orchestrator.ts';
import type { ConsumerGroupFigures } from '../service/operations.ts';
import type { AttemptReport } from '../webhooks/deliver.ts';

const AUTHORIZATION_SERVICES = new Set([
  'cardOrder',
  'walletOrder',
  'cardValidateAuthenticationAndOrder',
  'paymentProviderFinalize',
  'walletIssuerWalletFinalize',
  'duplicate',
]);

/** The go-live figures of the Sogenactif documentation, over authorisation answers since start. */
export interface GoLiveFigures {
  answers: number;
  accepted: number;
  acceptanceRate: number;
  /** 90, 97, 99 */
  technical: number;
  /** 34 */
  fraud: number;
  /** 75 */
  tooManyAttempts: number;
  /**
   * 03 or 34, sealed or not (an unknown merchantId, a wrong key or key
   * version): the commonest go-live mistakes, counted even when the answer's
   * seal does not verify.
   */
  credentialsRefused: number;
}

/** Where the queue depths, the review backlog and the webhook backlog are read. */
export type MetricsSource = Pick<ApiPorts, 'shards' | 'stepJobCounts' | 'openReviewCount'> & {
  scheduleJobCounts: ApiPorts['scheduleJobCounts'];
  webhookBacklog?(): Promise<EndpointBacklog[]>;
  consumerGroups?(): Promise<ConsumerGroupFigures[]>;
};

/** What a process's metrics read from its orchestrator at each scrape. */
export function metricsSourceOf(
  orchestrator: Pick<Orchestrator, 'operations' | 'webhooks'>,
): MetricsSource {
  const { operations, webhooks } = orchestrator;
  return {
    shards: () => operations.shards(),
    stepJobCounts: operations.stepJobCounts.bind(operations),
    scheduleJobCounts: operations.scheduleJobCounts.bind(operations),
    openReviewCount: () => operations.openReviewCount(),
    webhookBacklog: () => webhooks.backlog(),
    consumerGroups: () => operations.consumerGroups(),
  };
}

export interface Metrics {
  readonly registry: Registry;
  figures(): GoLiveFigures;
  /** Feed it every Sips call result (the orchestrator's `onCall`). */
  onCall(result: SipsResult): void;
  /** Feed it every webhook delivery attempt (the webhooks' `onAttempt`). */
  onWebhookAttempt(report: AttemptReport): void;
  /** Feed it every answered API request (src/api/observability.ts). */
  onHttpRequest(report: HttpRequestReport): void;
  /** The text exposition, with queue depths and the review backlog read now. */
  render(source: MetricsSource): Promise<string>;
}

/** One answered HTTP request: `route` is the pattern matched, never the raw URL. */
export interface HttpRequestReport {
  method: string;
  route: string;
  statusCode: number;
  seconds: number;
}

const COUNTED_JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const calls = new Counter({
    name: 'sips_calls_total',
    help: 'Sips calls by merchantId, service, outcome and responseCode',
    labelNames: ['merchant_id', 'service', 'outcome', 'response_code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sips_call_duration_seconds',
    help: 'Duration of Sips calls by service and responseCode',
    labelNames: ['service', 'response_code'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'sips_retryable_answers_total',
    help: 'Answers 90/99 (retried with backoff)',
    labelNames: ['service', 'response_code'],
    registers: [registry],
  });
  const authorizations = {
    all: 0,
    accepted: 0,
    technical: 0,
    fraud: 0,
    tooManyAttempts: 0,
    credentialsRefused: 0,
  };
  const acceptance = new Gauge({
    name: 'sips_acceptance_rate',
    help: 'Authorisation answers 00 over all authorisation answers, since start',
    registers: [registry],
    collect() {
      this.set(authorizations.all === 0 ? 0 : authorizations.accepted / authorizations.all);
    },
  });
  const queueJobs = new Gauge({
    name: 'step_queue_jobs',
    help: 'Step jobs by shard and state',
    labelNames: ['shard', 'state'],
    registers: [registry],
  });
  const reviewBacklog = new Gauge({
    name: 'manual_review_backlog',
    help: 'Open manual-review items',
    registers: [registry],
  });
  void acceptance;
  const webhooks = webhookMetrics(registry);
  const streams = streamMetrics(registry);
  const http = httpMetrics(registry);
  const scheduleJobs = new Gauge({
    name: 'schedule_queue_jobs',
    help: 'Schedule jobs (occurrences, retries, instalments, notices, janitor) by shard and state',
    labelNames: ['shard', 'state'],
    registers: [registry],
  });

  return {
    registry,
    figures: () => ({
      answers: authorizations.all,
      accepted: authorizations.accepted,
      acceptanceRate: authorizations.all === 0 ? 0 : authorizations.accepted / authorizations.all,
      technical: authorizations.technical,
      fraud: authorizations.fraud,
      tooManyAttempts: authorizations.tooManyAttempts,
      credentialsRefused: authorizations.credentialsRefused,
    }),
    onCall(result) {
      const service = result.call.service;
      const refusedCredentials = credentialsRefusal(result);
      const code =
        result.kind === 'unknown' || result.kind === 'seal_mismatch'
          ? (refusedCredentials ?? '')
          : result.responseCode;
      // The Sips merchantId the call was sent for: one deployment may serve several shops.
      const merchantId = String(result.call.request.merchantId ?? '');
      calls.inc({ merchant_id: merchantId, service, outcome: result.kind, response_code: code });
      duration.observe({ service, response_code: code }, result.call.durationMs / 1000);
      if (result.kind === 'retryable') retries.inc({ service, response_code: code });
      if (AUTHORIZATION_SERVICES.has(service) && code !== '') {
        authorizations.all += 1;
        if (code === '00') authorizations.accepted += 1;
        if (code === '90' || code === '97' || code === '99') authorizations.technical += 1;
        if (code === '34') authorizations.fraud += 1;
        if (code === '75') authorizations.tooManyAttempts += 1;
        if (refusedCredentials !== undefined) authorizations.credentialsRefused += 1;
      }
    },
    onWebhookAttempt(report) {
      webhooks.attempts.inc({ outcome: report.outcome, status_class: report.statusClass });
      webhooks.duration.observe({ outcome: report.outcome }, report.durationMs / 1000);
    },
    onHttpRequest(report) {
      const labels = {
        method: report.method,
        route: report.route,
        status_code: String(report.statusCode),
      };
      http.requests.inc(labels);
      http.duration.observe(labels, report.seconds);
    },
    async render(source) {
      const shards = source.shards();
      const [steps, schedules] = await Promise.all([
        Promise.all(shards.map((shard) => source.stepJobCounts(shard, COUNTED_JOB_STATES))),
        Promise.all(shards.map((shard) => source.scheduleJobCounts(shard, COUNTED_JOB_STATES))),
      ]);
      shards.forEach((shard, index) => {
        for (const [state, count] of Object.entries(steps[index] ?? {})) {
          queueJobs.set({ shard: String(shard), state }, count);
        }
        for (const [state, count] of Object.entries(schedules[index] ?? {})) {
          scheduleJobs.set({ shard: String(shard), state }, count);
        }
      });
      reviewBacklog.set(await source.openReviewCount());
      if (source.webhookBacklog) webhooks.setBacklog(await source.webhookBacklog());
      if (source.consumerGroups) streams.set(await source.consumerGroups());
      return registry.metrics();
    },
  };
}

function httpMetrics(registry: Registry) {
  const labelNames = ['method', 'route', 'status_code'];
  return {
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered by the API, by method, route pattern and status code',
      labelNames,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Duration of HTTP requests answered by the API, by method, route pattern and status code',
      labelNames,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

function webhookMetrics(registry: Registry) {
  const attempts = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry, failed) and answer status class (2xx..5xx, none)',
    labelNames: ['outcome', 'status_class'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'webhook_delivery_duration_seconds',
    help: 'Duration of webhook delivery attempts, connect to last byte of the answer',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15],
    registers: [registry],
  });
  const backlog = new Gauge({
    name: 'webhook_backlog_messages',
    help: 'Webhook messages neither delivered nor failed, per endpoint',
    labelNames: ['endpoint_id', 'merchant'],
    registers: [registry],
  });
  const oldest = new Gauge({
    name: 'webhook_oldest_undelivered_age_seconds',
    help: 'Age of the oldest undelivered webhook message, per endpoint (0: none)',
    labelNames: ['endpoint_id', 'merchant'],
    registers: [registry],
  });
  return {
    attempts,
    duration,
    setBacklog(endpoints: readonly EndpointBacklog[]) {
      // Endpoints deleted since the last scrape disappear from the series.
      backlog.reset();
      oldest.reset();
      for (const endpoint of endpoints) {
        const labels = { endpoint_id: endpoint.endpointId, merchant: endpoint.merchant };
        backlog.set(labels, endpoint.count);
        oldest.set(labels, (endpoint.oldestAgeMs ?? 0) / 1000);
      }
    },
  };
}

function streamMetrics(registry: Registry) {
  const lag = new Gauge({
    name: 'event_stream_consumer_lag',
    help: "Events of a shard's stream a consumer group has not read yet (-1: Redis cannot tell)",
    labelNames: ['shard', 'group'],
    registers: [registry],
  });
  const pending = new Gauge({
    name: 'event_stream_consumer_pending',
    help: 'Events a consumer group has read and not acknowledged',
    labelNames: ['shard', 'group'],
    registers: [registry],
  });
  return {
    set(groups: readonly ConsumerGroupFigures[]) {
      lag.reset();
      pending.reset();
      for (const group of groups) {
        const labels = { shard: String(group.shard), group: group.group };
        lag.set(labels, group.lag ?? -1);
        pending.set(labels, group.pending);
      }
    },
  };
}
