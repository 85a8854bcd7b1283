/**
 * Response schemas, one per service (reference §5). They are deliberately
 * loose: every known field is optional and may be null ("certains champs
 * peuvent être nuls, vides ou non renseignés"), numbers are accepted where the
 * dictionary says text, and unknown fields are kept, because every field of a
 * response, known or not, takes part in its seal.
 *
 * Only the code saying what happened is required: `responseCode`, or
 * `walletResponseCode` for wallet functions. getTransactionData may answer
 * `getTransDataResponseCode` (the call's own result) instead of, or next to,
 * `responseCode` (the original transaction's result).
 */
import { z } from 'zod';

const scalar = z.union([z.string(), z.number()]).nullish();
const list = z.array(z.unknown()).nullish();
const container = z.looseObject({}).nullish();
const code = z.string().min(1);
const optionalCode = code.nullish();

/**
 * The building blocks above, for `responseShapeCheck` (schemas.ts): a field
 * schema listed here is checked by hand with the same rule.
 */
export const RESPONSE_FIELD_KINDS: ReadonlyMap<z.ZodType, ResponseFieldKind> = new Map<
  z.ZodType,
  ResponseFieldKind
>([
  [scalar, 'scalar'],
  [list, 'list'],
  [container, 'container'],
  [code, 'code'],
  [optionalCode, 'optionalCode'],
]);

export type ResponseFieldKind = 'scalar' | 'list' | 'container' | 'code' | 'optionalCode';

function fields<const K extends readonly string[]>(names: K): { [N in K[number]]: typeof scalar } {
  return Object.fromEntries(names.map((name) => [name, scalar])) as {
    [N in K[number]]: typeof scalar;
  };
}

const common = {
  ...fields([
    'errorFieldName',
    'seal',
    'transactionReference',
    'intermediateServiceProviderOperationId',
  ]),
  s10TransactionReference: container,
};

const acquirer = fields([
  'acquirerResponseCode',
  'acquirerResponseIdentifier',
  'acquirerResponseMessage',
  'acquirerNativeResponseCode',
  'authorisationId',
  'authorMessageReference',
  'authorisationTypeLabel',
  'acceptanceSystemApplicationId',
  'complementaryCode',
  'complementaryInfo',
  'transactionDateTime',
  'transactionPlatform',
]);

const cardResult = {
  ...fields([
    'maskedPan',
    'panExpiryDate',
    'tokenPan',
    'paymentMeanBrand',
    'paymentMeanTradingName',
    'paymentMeanType',
    'paymentMeanBrandSelectionStatus',
    'cardScheme',
    'cardCSCResultCode',
    'avsAddressResponseCode',
    'avsPostcodeResponseCode',
    'panEntryMode',
    'walletType',
    'issuerWalletInformation',
  ]),
  cardData: container,
};

const authentication = fields([
  'holderAuthentStatus',
  'holderAuthentRelegationCode',
  'holderAuthentMethod',
  'holderAuthentProgram',
  'holderAuthentResponseCode',
  'holderAuthentType',
  'guaranteeIndicator',
]);

const score = {
  ...fields([
    'scoreValue',
    'scoreColor',
    'scoreInfo',
    'scoreProfile',
    'scoreThreshold',
    'preAuthorisationProfile',
    'preAuthorisationProfileValue',
  ]),
  preAuthorisationRuleResultList: list,
};

/** What an authorisation answers (cardOrder, walletOrder, duplicate, (wallet)creditHolder, 3DS end). */
const orderResult = {
  responseCode: code,
  ...common,
  ...acquirer,
  ...cardResult,
  ...authentication,
  ...score,
  ...fields([
    'amount',
    'currencyCode',
    'captureDay',
    'captureMode',
    'orderId',
    'orderChannel',
    'paymentPattern',
    'returnContext',
    'recurringResponseCode',
    'schemeTransactionIdentifier',
    'customerId',
  ]),
};

/** What a redirection-starting call answers (3DS enrolment, provider and issuer wallet initialisation). */
const redirectionResult = {
  responseCode: code,
  ...common,
  ...fields([
    'redirectionStatusCode',
    'redirectionUrl',
    'redirectionData',
    'messageVersion',
    'paReqMessage',
    'maskedPan',
    'tokenPan',
    'paymentMeanBrand',
    'paymentMeanBrandSelectionStatus',
    'paymentProviderSessionId',
    'outerRedirectionUrl',
  ]),
  ...acquirer,
};

/** What a cash-management operation answers. */
const operationResult = {
  responseCode: code,
  ...common,
  ...fields([
    'acquirerResponseCode',
    'authorisationId',
    'newAmount',
    'newStatus',
    'operationDateTime',
    'captureLimitDate',
  ]),
};

const walletResult = {
  walletResponseCode: code,
  responseCode: optionalCode,
  ...fields(['errorFieldName', 'seal', 'walletActionDateTime', 'walletCreationDateTime']),
};

export const cardOrderResponseSchema = z.looseObject(orderResult);
export const walletOrderResponseSchema = z.looseObject(orderResult);
export const cardCheckEnrollmentResponseSchema = z.looseObject(redirectionResult);
export const walletCheckEnrollmentResponseSchema = z.looseObject(redirectionResult);

export const cardValidateAuthenticationResponseSchema = z.looseObject({
  responseCode: code,
  ...common,
  ...authentication,
  threeD: container,
  threeDV2: container,
});

export const cardValidateAuthenticationAndOrderResponseSchema = z.looseObject(orderResult);
export const paymentProviderInitializeResponseSchema = z.looseObject(redirectionResult);

export const paymentProviderFinalizeResponseSchema = z.looseObject({
  ...orderResult,
  ...fields(['transactionStatus', 'issuerWalletId']),
});

export const walletIssuerWalletInitializeResponseSchema = z.looseObject(redirectionResult);

export const walletIssuerWalletFinalizeResponseSchema = z.looseObject({
  ...orderResult,
  ...fields(['transactionStatus', 'issuerWalletId', 'issuerWalletType']),
});

export const validateResponseSchema = z.looseObject(operationResult);
export const cancelResponseSchema = z.looseObject(operationResult);
export const refundResponseSchema = z.looseObject(operationResult);
export const duplicateResponseSchema = z.looseObject(orderResult);
export const acceptChallengeResponseSchema = z.looseObject(operationResult);
export const refuseChallengeResponseSchema = z.looseObject(operationResult);
export const creditHolderResponseSchema = z.looseObject(orderResult);
export const walletCreditHolderResponseSchema = z.looseObject(orderResult);

export const getTransactionDataResponseSchema = z
  .looseObject({
    ...orderResult,
    responseCode: optionalCode,
    getTransDataResponseCode: optionalCode,
    ...fields([
      'transactionStatus',
      'originAmount',
      'currentAmount',
      'remainingAmount',
      'captureLimitDate',
      'lastOperationName',
      'lastOperationDateTime',
      'automaticResponseStatus',
      'customerIpAddress',
      'dccStatus',
      'fromTransactionReference',
      'paymentAttemptNumber',
    ]),
  })
  .refine(
    (value) =>
      typeof value.responseCode === 'string' || typeof value.getTransDataResponseCode === 'string',
    { path: ['responseCode'], message: 'responseCode or getTransDataResponseCode is required' },
  );

export const addCardResponseSchema = z.looseObject({
  ...walletResult,
  ...fields([
    'paymentMeanId',
    'maskedPan',
    'panExpiryDate',
    'paymentMeanBrand',
    'paymentMeanAlias',
  ]),
});

export const getWalletDataResponseSchema = z.looseObject({
  ...walletResult,
  walletLastActionDateTime: scalar,
  walletPaymentMeanDataList: z.array(z.looseObject({})).nullish(),
});

export const deletePaymentMeanResponseSchema = z.looseObject(walletResult);
