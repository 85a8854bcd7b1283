/**
 * A typed client of the sogenactif-orchestrator HTTP API: openapi-fetch over
 * the types of its OpenAPI document (./schema.ts, written by
 * `npm run client:generate`). Every call answers `{ data, error, response }`:
 * `data` typed by the operation's success answer, `error` by its problem
 * answer (application/problem+json with a stable `code`).
 */
import createFetchClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.ts';

export type { components, operations, paths, webhooks } from './schema.ts';

type Schemas = components['schemas'];
export type Payment = Schemas['Payment'];
export type PaymentStatus = Payment['status'];
export type Problem = Schemas['Problem'];
export type ProblemCode = Problem['code'];
export type CreatePayment = Schemas['CreatePayment'];
export type Subscription = Schemas['Subscription'];
export type InstalmentPlan = Schemas['InstalmentPlan'];
export type ReviewItem = Schemas['ReviewItem'];
export type WebhookEndpoint = Schemas['WebhookEndpoint'];
export type WebhookEndpointWithSecret = Schemas['WebhookEndpointWithSecret'];
export type WebhookDelivery = Schemas['WebhookDelivery'];

export type OrchestratorClient = Client<paths>;

export interface OrchestratorClientOptions {
  /** The API's origin, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** Another fetch (defaults to `globalThis.fetch`). */
  fetch?: ClientOptions['fetch'];
}

export function createClient(options: OrchestratorClientOptions): OrchestratorClient {
  return createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
