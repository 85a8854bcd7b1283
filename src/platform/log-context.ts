/**
 * The ids a log line is about, carried along the async call chain: the HTTP
 * request id, the merchant, the payment and the BullMQ job. Every logger made
 * by `createLogger` adds the current ones to each line it writes, so a module
 * deep in the engine or the Sips client logs them without being handed them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LogContext {
  /** The HTTP request id (`X-Request-Id`), also carried by the jobs the request enqueued. */
  requestId?: string;
  /** Our id of the shop. */
  merchant?: string;
  paymentId?: string;
  jobId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

function definedFields(fields: LogContext): LogContext {
  const out: LogContext = {};
  for (const [name, value] of Object.entries(fields) as [keyof LogContext, unknown][]) {
    if (typeof value === 'string' && value !== '') out[name] = value;
  }
  return out;
}

/** Runs `fn` with `fields` added to the current context (theirs win). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...definedFields(fields) }, fn);
}

/** The context of the code running now, if any. */
export function currentLogContext(): Readonly<LogContext> | undefined {
  return storage.getStore();
}

/**
 * Adds `fields` to the context of the code running now (a payment id learnt
 * once the record is read); nothing outside a context.
 */
export function addToLogContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, definedFields(fields));
}

/** An id fit to be echoed and logged: 1 to 128 letters, digits and `-_.:`. */
export function isSaneRequestId(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(value);
}
