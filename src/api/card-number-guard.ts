/**
 * Card numbers outside the card fields are refused at the edge. Every string
 * of a request is searched for a card-number-like run (12 to 19 digits,
 * possibly grouped by spaces, dots, dashes or underscores, passing Luhn: the
 * rule of src/payments/pan-detect.ts): the values and property names of the
 * body (nested objects and arrays, JSON or form), the query string and the
 * path parameters. A hit is answered 400 `invalid_command` with `field`
 * naming it (`merchant.metadata.note`, `items.0.x`; a query or path
 * parameter by its name) and the message `<field> must not contain a card
 * number`, as the commands' own free-text checks answer it, before
 * validation and the handler: nothing is stored, sent to Sips or logged, and
 * the answer never quotes the value.
 *
 * The card fields are left to the commands' own checks (`card_number_invalid`,
 * `card_expired`): `card.number`, `card.expiry` and `card.csc` at the top of
 * a body, where payments, subscriptions and instalment plans take a card.
 * Numbers are not searched: every field that keeps text takes a string, and a
 * number in its place is refused by the command's schema.
 *
 * The plugin adds its hook to the instance it is registered on (it is not
 * encapsulated). Register it on the root instance before the routes: Fastify
 * gives the routes of a plugin the hooks its instance had when it loaded.
 * Registered twice on one instance, it hooks once.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { findCardNumber, PAN_MIN_DIGITS } from '../payments/pan-detect.ts';
import { ApiError } from './problems.ts';
import { PAYMENT_ID_PATTERN } from '../payments/keys.ts';
import { paymentIdOfReviewJob } from '../payments/review.ts';
import { OPERATION_ID } from '../service/operations-views.ts';
import { isEndpointId } from '../webhooks/endpoints.ts';
import { PLAN_ID, SUBSCRIPTION_ID } from './params.ts';

/** The fields of the top-level `card` object that carry card data by design. */
const CARD_FIELDS: ReadonlySet<string> = new Set(['number', 'expiry', 'csc']);

/** A place in the request: its name, and the place holding it. */
interface Place {
  readonly name: string;
  readonly parent: Place | undefined;
}

function pathOf(place: Place | undefined): string {
  const names: string[] = [];
  for (let at = place; at; at = at.parent) names.push(at.name);
  return names.reverse().join('.');
}

const mayHoldCardNumber = (text: string): boolean =>
  text.length >= PAN_MIN_DIGITS && findCardNumber(text) !== undefined;

/**
 * Our own identifiers in a path (`pay_0_…`, `sub_0_…`, `plan_0_…`, `we_…`,
 * `review-pay_0_…-3`): random tokens whose digits may by chance form a run
 * that passes Luhn. They are recognised by the patterns the routes check them by;
 * refusing them here would make some records unreachable.
 */
function isOurId(_place: Place | undefined, value: string): boolean {
  const id = paymentIdOfReviewJob(value) ?? value;
  return (
    PAYMENT_ID_PATTERN.test(id) ||
    SUBSCRIPTION_ID.test(id) ||
    PLAN_ID.test(id) ||
    isEndpointId(id) ||
    OPERATION_ID.test(id)
  );
}

/** `card.number`, `card.expiry`, `card.csc` at the top of a body. */
function isCardField(place: Place | undefined): boolean {
  return (
    place !== undefined &&
    CARD_FIELDS.has(place.name) &&
    place.parent?.name === 'card' &&
    place.parent.parent === undefined
  );
}

/**
 * The dotted path of the first string (or property name) of `root` holding a
 * card number, or undefined. Iterative, so a deeply nested body does not
 * exhaust the stack; every value is visited once.
 */
function findInTree(
  root: unknown,
  skip: (place: Place | undefined, value: string) => boolean,
): { path: string; propertyName: boolean } | undefined {
  const stack: { value: unknown; place: Place | undefined }[] = [{ value: root, place: undefined }];
  while (stack.length > 0) {
    const { value, place } = stack.pop() as { value: unknown; place: Place | undefined };
    if (typeof value === 'string') {
      if (!skip(place, value) && mayHoldCardNumber(value)) {
        return { path: pathOf(place), propertyName: false };
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) {
        stack.push({ value: value[index], place: { name: String(index), parent: place } });
      }
      continue;
    }
    const names = Object.keys(value);
    for (const name of names) {
      if (mayHoldCardNumber(name)) return { path: pathOf(place), propertyName: true };
    }
    for (let index = names.length - 1; index >= 0; index--) {
      const name = names[index] as string;
      stack.push({
        value: (value as Record<string, unknown>)[name],
        place: { name, parent: place },
      });
    }
  }
  return undefined;
}

function refusal(where: string, path: string, propertyName: boolean): ApiError {
  const field = path === '' ? '(body)' : path;
  const named = where === 'body' ? field : `${where} ${field}`;
  const message = propertyName
    ? `${named} must not have a card number as a property name`
    : `${named} must not contain a card number`;
  return new ApiError('invalid_command', message, field);
}

/**
 * Throws `invalid_command` (an `ApiError` naming the field) when the request's path
 * parameters, query string or body hold a card number outside the card fields.
 */
function refuseCardNumbers(request: FastifyRequest): void {
  const parts = [
    ['path parameter', request.params, isOurId],
    ['query parameter', request.query, () => false],
    ['body', request.body, isCardField],
  ] as const;
  for (const [where, tree, skip] of parts) {
    const found = findInTree(tree, skip);
    if (found) throw refusal(where, found.path, found.propertyName);
  }
}

const GUARDED = new WeakSet<FastifyInstance>();

/** The Fastify plugin: a `preValidation` hook calling `refuseCardNumbers`. */
export const cardNumberGuard: FastifyPluginAsync = async (app) => {
  if (GUARDED.has(app)) return;
  GUARDED.add(app);
  app.addHook('preValidation', async (request) => {
    refuseCardNumbers(request);
  });
};

// Not encapsulated: the hook goes on the instance the plugin is registered on.
Object.assign(cardNumberGuard, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'card-number-guard',
});
