/**
 * Request schemas, one per service (reference §5). Each describes the full
 * wire request: the envelope every call carries (merchantId, interfaceVersion
 * with the service's prefix, keyVersion, seal, optional sealAlgorithm) plus
 * the service's own fields. Known fields are checked for format; unknown
 * fields are kept, because Sips adds fields and they take part in the seal.
 *
 * Which fields are required follows the data dictionary where it was
 * readable and what every client sends otherwise; fields the dictionary marks
 * "conditional" are optional here and left to the server to judge.
 */
import { z } from 'zod';
import { interfaceVersionFor, type SipsServiceName } from '../services.ts';
import {
  address,
  authenticationData,
  contact,
  customerAccountHistoric,
  deliveryData,
  fraudData,
  instalmentData,
  orderContext,
  paymentMeanData,
  personData,
  s10TransactionReference,
  shoppingCartDetail,
  travelContext,
} from './containers.ts';
import {
  amount,
  captureDay,
  captureMode,
  cardCSCValue,
  cardNumber,
  CSC_PATTERN,
  cscType,
  currencyCode,
  dateTime,
  interfaceVersion,
  keyVersion,
  merchantId,
  merchantWalletId,
  orderChannel,
  PAN_PATTERN,
  panType,
  paymentMeanId,
  paymentPattern,
  requiredText,
  seal,
  sealAlgorithm,
  text,
  transactionReference,
  url,
  yearMonth,
} from './fields.ts';

/** The fields every request carries, whatever the service. */
function envelope(service: SipsServiceName) {
  return {
    merchantId,
    interfaceVersion: interfaceVersion(interfaceVersionFor(service, '')),
    keyVersion,
    seal,
    sealAlgorithm: sealAlgorithm.optional(),
    intermediateServiceProviderId: text(64).optional(),
  };
}

/** A transaction is named by transactionReference or, for shops migrated from Sips 1.0, s10TransactionReference. */
const reference = {
  transactionReference: transactionReference.optional(),
  s10TransactionReference: s10TransactionReference.optional(),
};

const optionalText = text().optional();

/** Customer, billing and delivery containers, shared by the order-like services. */
const customerContainers = {
  billingAddress: address.optional(),
  billingContact: contact.optional(),
  customerAddress: address.optional(),
  customerContact: contact.optional(),
  customerData: personData.optional(),
  deliveryAddress: address.optional(),
  deliveryContact: contact.optional(),
  deliveryData: deliveryData.optional(),
  holderAddress: address.optional(),
  holderContact: contact.optional(),
  holderData: personData.optional(),
};

/** The order description shared by cardOrder, walletOrder, enrolments, duplicate and creditHolder. */
const order = {
  amount,
  currencyCode,
  ...reference,
  captureDay: captureDay.optional(),
  captureMode: captureMode.optional(),
  orderChannel: orderChannel.optional(),
  orderId: optionalText,
  returnContext: optionalText,
  transactionOrigin: optionalText,
  customerId: optionalText,
  customerIpAddress: optionalText,
  customerLanguage: optionalText,
  merchantTransactionDateTime: dateTime.optional(),
  invoiceReference: optionalText,
  statementReference: optionalText,
  paymentPattern: paymentPattern.optional(),
  paymentMeanBrand: optionalText,
  riskManagementCustomDataList: z.array(z.looseObject({})).optional(),
  initialSchemeTransactionIdentifier: optionalText,
  subMerchantId: optionalText,
  subMerchantShortName: optionalText,
  subMerchantCategoryCode: optionalText,
  subMerchantLegalId: optionalText,
  subMerchantAddress: address.optional(),
  ...customerContainers,
  fraudData: fraudData.optional(),
  authenticationData: authenticationData.optional(),
  paymentMeanData: paymentMeanData.optional(),
  shoppingCartDetail: shoppingCartDetail.optional(),
  instalmentData: instalmentData.optional(),
  travelContext: travelContext.optional(),
  orderContext: orderContext.optional(),
};

/** Card data sent in clear (panType PAN) or as a token / encrypted value. */
const card = {
  cardNumber,
  cardExpiryDate: yearMonth,
  cardCSCValue: cardCSCValue.optional(),
  cardSeqNumber: optionalText,
  cardEffectiveDate: yearMonth.optional(),
  panType: panType.optional(),
  cscType: cscType.optional(),
};

/** A card stored in the merchant's Sips wallet. */
const walletCard = {
  merchantWalletId,
  paymentMeanId,
  cardCSCValue: cardCSCValue.optional(),
  cscType: cscType.optional(),
};

/** What the 3-D Secure enrolment and provider initialisation add to an order. */
const redirection = {
  merchantReturnUrl: url.optional(),
  merchantUrl: url.optional(),
  merchantName: optionalText,
  customerAccountHistoric: customerAccountHistoric.optional(),
};

/** The continuation after the customer came back from an ACS or a provider. */
const continuation = {
  ...reference,
  messageVersion: requiredText(),
  redirectionData: requiredText(4096),
  paResMessage: text(65_536).optional(),
};

/** The amount and reference of a cash-management operation on an existing transaction. */
const operation = {
  ...reference,
  operationAmount: amount,
  currencyCode,
  operationOrigin: optionalText,
  customerContact: contact.optional(),
};

type Loose = Record<string, unknown>;

// The rules below look at fields that may be missing or of the wrong type
// (they run even when the shape already failed, so every fault is reported);
// each only speaks about a value it can read.

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** Require transactionReference unless s10TransactionReference is given. */
function referenceRule<T extends z.ZodType>(
  schema: T,
  field = 'transactionReference',
  s10 = 's10TransactionReference',
): T {
  return schema.refine(
    (value) => {
      const message = value as Loose;
      return !isMissing(message[field]) || !isMissing(message[s10]);
    },
    { path: [field], message: `${field} (or ${s10}) is required`, when: () => true },
  );
}

/** A clear PAN must be 12 to 19 digits; tokens and encrypted values are the server's to judge. */
function cardNumberRule<T extends z.ZodType>(schema: T): T {
  return schema.refine(
    (value) => {
      const message = value as Loose;
      const number = message.cardNumber;
      if (typeof number !== 'string' || isMissing(number)) return true;
      const type = message.panType;
      return (type !== undefined && type !== 'PAN') || PAN_PATTERN.test(number);
    },
    { path: ['cardNumber'], message: '12 to 19 digits', when: () => true },
  );
}

/** A clear CSC must be 3 or 4 digits. */
function cscRule<T extends z.ZodType>(schema: T): T {
  return schema.refine(
    (value) => {
      const message = value as Loose;
      const csc = message.cardCSCValue;
      if (typeof csc !== 'string' || isMissing(csc)) return true;
      const type = message.cscType;
      return (type !== undefined && type !== 'PLAIN') || CSC_PATTERN.test(csc);
    },
    { path: ['cardCSCValue'], message: '3 or 4 digits', when: () => true },
  );
}

export const cardOrderRequestSchema = cscRule(
  cardNumberRule(referenceRule(z.looseObject({ ...envelope('cardOrder'), ...order, ...card }))),
);

export const walletOrderRequestSchema = cscRule(
  referenceRule(z.looseObject({ ...envelope('walletOrder'), ...order, ...walletCard })),
);

export const cardCheckEnrollmentRequestSchema = cscRule(
  cardNumberRule(
    referenceRule(
      z.looseObject({ ...envelope('cardCheckEnrollment'), ...order, ...card, ...redirection }),
    ),
  ),
);

export const walletCheckEnrollmentRequestSchema = cscRule(
  referenceRule(
    z.looseObject({
      ...envelope('walletCheckEnrollment'),
      ...order,
      ...walletCard,
      ...redirection,
    }),
  ),
);

export const cardValidateAuthenticationRequestSchema = referenceRule(
  z.looseObject({ ...envelope('cardValidateAuthentication'), ...continuation }),
);

export const cardValidateAuthenticationAndOrderRequestSchema = referenceRule(
  z.looseObject({ ...envelope('cardValidateAuthenticationAndOrder'), ...continuation }),
);

export const paymentProviderInitializeRequestSchema = referenceRule(
  z.looseObject({
    ...envelope('paymentProviderInitialize'),
    ...order,
    ...redirection,
    merchantReturnUrl: url,
    paymentMeanBrand: requiredText(64),
    responseKeyVersion: keyVersion.optional(),
  }),
);

export const paymentProviderFinalizeRequestSchema = referenceRule(
  z.looseObject({ ...envelope('paymentProviderFinalize'), ...continuation }),
);

/**
 * A OneClick payment with an issuer wallet (PAYLIB-type) stored in the shop's
 * Sips wallet: the dictionary's request sample gives the order fields,
 * merchantWalletId, paymentMeanBrand and merchantReturnUrl (the customer is
 * sent to the issuer wallet with the "POST form to external suppliers" and
 * comes back there). The sample has no paymentMeanId: it is optional here,
 * naming one stored payment mean when the wallet holds several. Like
 * paymentProviderInitialize, merchantReturnUrl and paymentMeanBrand are
 * required (the redirection and the issuer wallet cannot be chosen without them).
 */
export const walletIssuerWalletInitializeRequestSchema = referenceRule(
  z.looseObject({
    ...envelope('walletIssuerWalletInitialize'),
    ...order,
    ...redirection,
    merchantWalletId,
    paymentMeanId: paymentMeanId.optional(),
    merchantReturnUrl: url,
    paymentMeanBrand: requiredText(64),
  }),
);

/** The continuation after the customer came back from the issuer wallet (same fields as paymentProviderFinalize). */
export const walletIssuerWalletFinalizeRequestSchema = referenceRule(
  z.looseObject({ ...envelope('walletIssuerWalletFinalize'), ...continuation }),
);

export const validateRequestSchema = referenceRule(
  z.looseObject({
    ...envelope('validate'),
    ...operation,
    lastRecoveryIndicator: optionalText,
    subMerchantId: optionalText,
  }),
);

export const cancelRequestSchema = referenceRule(
  z.looseObject({ ...envelope('cancel'), ...operation }),
);

export const refundRequestSchema = referenceRule(
  z.looseObject({
    ...envelope('refund'),
    ...operation,
    paymentMeanData: paymentMeanData.optional(),
    shoppingCartDetail: shoppingCartDetail.optional(),
  }),
);

export const duplicateRequestSchema = referenceRule(
  referenceRule(
    z.looseObject({
      ...envelope('duplicate'),
      ...order,
      fromTransactionReference: transactionReference.optional(),
      s10FromTransactionReference: s10TransactionReference.optional(),
      fromMerchantId: merchantId.optional(),
    }),
  ),
  'fromTransactionReference',
  's10FromTransactionReference',
);

const challenge = { ...reference, operationOrigin: optionalText, comment: optionalText };

export const acceptChallengeRequestSchema = referenceRule(
  z.looseObject({ ...envelope('acceptChallenge'), ...challenge }),
);

export const refuseChallengeRequestSchema = referenceRule(
  z.looseObject({ ...envelope('refuseChallenge'), ...challenge }),
);

export const creditHolderRequestSchema = cscRule(
  cardNumberRule(referenceRule(z.looseObject({ ...envelope('creditHolder'), ...order, ...card }))),
);

/**
 * creditHolder with a card stored in the shop's Sips wallet (OneClick option):
 * merchantWalletId and paymentMeanId in place of the card fields (reference
 * §5.5, the fields C-opencell sends).
 */
export const walletCreditHolderRequestSchema = cscRule(
  referenceRule(z.looseObject({ ...envelope('walletCreditHolder'), ...order, ...walletCard })),
);

export const getTransactionDataRequestSchema = referenceRule(
  z.looseObject({ ...envelope('getTransactionData'), ...reference }),
);

export const addCardRequestSchema = cardNumberRule(
  z.looseObject({
    ...envelope('addCard'),
    merchantWalletId,
    cardNumber,
    cardExpiryDate: yearMonth,
    panType: panType.optional(),
    paymentMeanAlias: optionalText,
    paymentMeanBrand: optionalText,
  }),
);

export const getWalletDataRequestSchema = z.looseObject({
  ...envelope('getWalletData'),
  merchantWalletId,
});

export const deletePaymentMeanRequestSchema = z.looseObject({
  ...envelope('deletePaymentMean'),
  merchantWalletId,
  paymentMeanId,
});
