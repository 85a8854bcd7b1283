/**
 * The states that obtain the authorisation, the only part in which the payment
 * kinds differ (model.ts `PAYMENT_FLOWS`): one call (`authorize`), or a call
 * that sends the customer away (`enroll`, `initialize_provider`) and a call
 * that completes the authentication and authorises once the customer is back.
 */
import type { AcceptedDetails } from './contract.ts';
import { begin, callPending, emit, type Args, type EventOf } from './actions.ts';
import { accepted, answers } from './guards.ts';
import { AUTHORIZING_OPERATIONS, REDIRECTING_OPERATIONS, type PaymentFlow } from './model.ts';
import { uncertainAnswers } from './outcome-states.ts';
import { TARGET } from './targets.ts';

/** Answers to enrolment or provider initialisation: redirect, skip (not enrolled) or fail. */
function redirectingAnswers(flow: PaymentFlow) {
  if (!flow.redirect) return [];
  return [
    ...(flow.mayBeNotEnrolled
      ? [
          {
            guard: accepted(['enroll'], (details) => details.notEnrolled === true),
            target: '#payment.authenticating',
            actions: [
              begin(() => ({ operation: flow.completion })),
              emit('payment.authentication_skipped', () => ({ reason: 'not_enrolled' })),
              callPending,
            ],
          },
        ]
      : []),
    {
      guard: accepted(REDIRECTING_OPERATIONS, (details) => details.redirect !== undefined),
      target: '#payment.awaiting_authentication',
      actions: [
        emit<EventOf<'sips.accepted'>>('payment.authentication_required', ({ event }) => ({
          redirect: { ...event.details.redirect },
        })),
        'clearPending' as const,
      ],
    },
    // Nowhere to send the customer: nothing was authorised, the payment cannot go on.
    {
      guard: answers(REDIRECTING_OPERATIONS),
      target: TARGET.failed,
      actions: [
        emit('payment.failed', () => ({ reason: 'no_redirection' })),
        'clearPending' as const,
      ],
    },
  ];
}

/** Answers to the calls that obtain the authorisation. */
function authorizationAnswers(flow: PaymentFlow) {
  return {
    'sips.accepted': [
      ...redirectingAnswers(flow),
      {
        guard: accepted(AUTHORIZING_OPERATIONS, (details) => details.challenge === true),
        target: TARGET.challenged,
        actions: [
          'recordAuthorization' as const,
          emit<EventOf<'sips.accepted'>>('payment.challenged', ({ event }) =>
            authorizationData(event.details),
          ),
          'clearPending' as const,
        ],
      },
      {
        guard: answers(AUTHORIZING_OPERATIONS),
        target: TARGET.authorized,
        actions: [
          'recordAuthorization' as const,
          emit<EventOf<'sips.accepted'>>('payment.authorized', ({ event }) =>
            authorizationData(event.details),
          ),
          'clearPending' as const,
        ],
      },
    ],
    'sips.declined': [
      {
        guard: (args: Args<EventOf<'sips.declined'>>) => answers()(args) && args.event.invalid,
        target: TARGET.failed,
        actions: [
          emit<EventOf<'sips.declined'>>('payment.failed', ({ event }) => ({
            reason: 'invalid_request',
            responseCode: event.responseCode,
          })),
          'clearPending' as const,
        ],
      },
      {
        guard: answers(),
        target: TARGET.refused,
        actions: [
          emit<EventOf<'sips.declined'>>('payment.refused', ({ event }) => ({
            responseCode: event.responseCode,
          })),
          'clearPending' as const,
        ],
      },
    ],
    // Sips said it did not process the call and the attempts ran out: nothing was authorised.
    'sips.unavailable': {
      guard: answers(),
      target: TARGET.failed,
      actions: [
        emit<EventOf<'sips.unavailable'>>('payment.failed', ({ event }) => ({
          reason: 'sips_unavailable',
          responseCode: event.responseCode,
        })),
        'clearPending' as const,
      ],
    },
    ...uncertainAnswers,
  };
}

function authorizationData(details: AcceptedDetails): Record<string, unknown> {
  return {
    ...(details.authorisationId === undefined ? {} : { authorisationId: details.authorisationId }),
    ...(details.schemeTransactionIdentifier === undefined
      ? {}
      : { schemeTransactionIdentifier: details.schemeTransactionIdentifier }),
  };
}

/**
 * The authorisation-family states of `flow`: `states` are top-level states
 * (`received`, then the redirect states when the flow redirects); `resent` is
 * the sub-state of `authorizing` where a resent `authorize` waits (flows
 * without redirect only).
 */
export function authorizationStates(flow: PaymentFlow) {
  const answersForAuthorization = authorizationAnswers(flow);

  const redirectStates = flow.redirect
    ? {
        /** A resent enrolment / provider initialisation is in flight. */
        enrolling: { on: answersForAuthorization },
        /** The customer is at the ACS or the provider; nothing is in flight. */
        awaiting_authentication: {
          on: {
            'customer.returned': {
              target: '#payment.authenticating',
              actions: [
                begin(() => ({ operation: flow.completion })),
                emit('payment.customer_returned'),
                callPending,
              ],
            },
            'customer.abandoned': {
              target: TARGET.expired,
              actions: [emit('payment.expired', () => ({ reason: 'customer_did_not_return' }))],
            },
          },
        },
        /** The call that completes the authentication and authorises is in flight. */
        authenticating: { on: answersForAuthorization },
      }
    : {};

  return {
    states: {
      /** Created; the first call (authorize, enroll or initialize_provider) is in flight. */
      received: { on: answersForAuthorization },
      ...redirectStates,
    },
    // The state's name is stored in snapshots (`authorizing.authorisation`): kept as written.
    resent: flow.redirect ? {} : { authorisation: { on: answersForAuthorization } },
  };
}
