/**
 * Compile-time checks of the client's types (`tsc -p clients/typescript`):
 * the fields every answer holds are required, the others optional, and the
 * calls demand what the API demands. Nothing here runs.
 */
import {
  createClient,
  type Payment,
  type Problem,
  type ProblemCode,
  type Subscription,
  type WebhookEndpoint,
} from '../src/index.ts';

/** The keys of T that are not optional. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type Equal<A, B> =
  (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
const same = <A, B>(proof: Equal<A, B>): Equal<A, B> => proof;

export const paymentFields = same<
  RequiredKeys<Payment>,
  | 'id'
  | 'status'
  | 'final'
  | 'kind'
  | 'merchant'
  | 'amount'
  | 'currency'
  | 'captureMode'
  | 'amounts'
  | 'transactionReference'
  | 'facts'
  | 'version'
  | 'createdAt'
  | 'updatedAt'
  | 'timeline'
  | 'operations'
>(true);
export const problemFields = same<
  Extract<RequiredKeys<Problem>, 'type' | 'title' | 'status' | 'code' | 'detail'>,
  'type' | 'title' | 'status' | 'code' | 'detail'
>(true);
export const endpointFields = same<
  RequiredKeys<WebhookEndpoint>,
  'id' | 'merchant' | 'url' | 'eventTypes' | 'enabled' | 'createdAt' | 'updatedAt'
>(true);
export const subscriptionCore = same<
  Extract<RequiredKeys<Subscription>, 'id' | 'status' | 'amount' | 'firstPaymentId'>,
  'id' | 'status' | 'amount' | 'firstPaymentId'
>(true);

const payment: Payment = {
  id: 'pay_0_x',
  status: 'authorized',
  final: false,
  kind: 'card',
  merchant: 'default',
  amount: 1000,
  currency: '978',
  captureMode: 'validation',
  amounts: { authorized: 1000, captured: 0, cancelled: 0, refunded: 0 },
  transactionReference: 'T1',
  facts: {},
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  timeline: [{ at: '2026-01-01T00:00:00.000Z', kind: 'created' }],
  operations: [],
};

const { id: _id, ...withoutId } = payment;
const { status: _status, ...withoutStatus } = payment;
const { amount: _amount, ...withoutAmount } = payment;
// @ts-expect-error a payment has an id
export const noId: Payment = withoutId;
// @ts-expect-error a payment has a status
export const noStatus: Payment = withoutStatus;
// @ts-expect-error a payment has an amount
export const noAmount: Payment = withoutAmount;
// @ts-expect-error the status is one of the lifecycle's
export const unknownStatus: Payment = { ...payment, status: 'paid' };

export const id: string = payment.id;
export const amount: number = payment.amount;
export const captured: number = payment.amounts.captured;
// @ts-expect-error the masked card number is there only once known
export const maskedPan: string = payment.maskedPan;

/** Never called: the calls type-check or not. */
export async function calls(): Promise<void> {
  const client = createClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: 'dev-key' });

  // @ts-expect-error a create needs its Idempotency-Key header
  await client.POST('/v1/payments', { body: { amount: 1000 } });
  // @ts-expect-error a payment is read by its id
  await client.GET('/v1/payments/{id}', {});
  // @ts-expect-error no such route
  await client.GET('/v1/payment/{id}', { params: { path: { id: 'x' } } });

  const { data, error } = await client.GET('/v1/payments/{id}', {
    params: { path: { id: 'pay_0_x' } },
  });
  if (data) {
    const status: Payment['status'] = data.status;
    const refunded: number = data.amounts.refunded;
    void [status, refunded];
  }
  if (error) {
    const code: ProblemCode = error.code;
    // @ts-expect-error a problem code is one of the catalogue's
    const other: typeof code = 'no_such_code';
    void [code, other];
  }
}
