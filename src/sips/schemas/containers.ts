/**
 * Request containers (reference §5.2): JSON objects grouping related fields.
 * Every container is loose: Sips adds fields over interface versions, and an
 * unknown field must reach the server (and the seal) untouched.
 */
import { z } from 'zod';
import { amount, dateTime, text, transactionReference, yearMonthDay } from './fields.ts';

const optionalText = text().optional();

/** Address containers: billingAddress, customerAddress, deliveryAddress, holderAddress. */
export const address = z.looseObject({
  addressAdditional1: optionalText,
  addressAdditional2: optionalText,
  addressAdditional3: optionalText,
  city: optionalText,
  company: optionalText,
  country: optionalText,
  postBox: optionalText,
  state: optionalText,
  street: optionalText,
  streetNumber: optionalText,
  zipCode: optionalText,
});

/** Contact containers: billingContact, customerContact, deliveryContact, holderContact. */
export const contact = z.looseObject({
  email: optionalText,
  firstname: optionalText,
  gender: optionalText,
  initials: optionalText,
  lastname: optionalText,
  legalId: optionalText,
  mobile: optionalText,
  phone: optionalText,
  positionOccupied: optionalText,
  title: optionalText,
});

/** customerData / holderData. */
export const personData = z.looseObject({
  birthCity: optionalText,
  birthCountry: optionalText,
  birthDate: yearMonthDay.optional(),
  birthZipCode: optionalText,
  nationalityCountry: optionalText,
});

export const fraudData = z.looseObject({
  allowedCardArea: z.array(z.string()).optional(),
  allowedCardCountryList: z.array(z.string()).optional(),
  bypass3DS: optionalText,
  bypassCtrlList: z.array(z.string()).optional(),
  challengeMode3DS: optionalText,
  deniedCardArea: z.array(z.string()).optional(),
  deniedCardCountryList: z.array(z.string()).optional(),
  merchantCustomerAuthentMethod: optionalText,
  riskManagementDynamicSettingList: z.array(z.looseObject({})).optional(),
});

export const shoppingCartItem = z.looseObject({
  productCategory: optionalText,
  productCode: optionalText,
  productDescription: optionalText,
  productName: optionalText,
  productQuantity: amount.optional(),
  productSKU: optionalText,
  productTaxRate: amount.optional(),
  productUnitAmount: amount.optional(),
  productUnitTaxAmount: amount.optional(),
});

export const shoppingCartDetail = z.looseObject({
  mainProduct: optionalText,
  shoppingCartItemList: z.array(shoppingCartItem).optional(),
  shoppingCartTotalAmount: amount.optional(),
  shoppingCartTotalQuantity: amount.optional(),
  shoppingCartTotalTaxAmount: amount.optional(),
});

/** Split payment schedule (reference §9): lists, first reference = transactionReference. */
export const instalmentData = z.looseObject({
  amountsList: z.array(amount).optional(),
  datesList: z.array(yearMonthDay).optional(),
  number: amount.optional(),
  s10TransactionIdsList: z.array(z.string().regex(/^\d{6}$/)).optional(),
  transactionReferencesList: z.array(transactionReference).optional(),
});

/** 3-D Secure v1 results obtained elsewhere (external 3DS). */
export const threeD = z.looseObject({
  cavv: optionalText,
  cavvAlgorithm: optionalText,
  eci: optionalText,
  securityIndicator: optionalText,
  xid: optionalText,
  txStatus: optionalText,
});

/** 3-D Secure v2 results obtained elsewhere (external 3DS). */
export const threeDV2 = z.looseObject({
  authentAcsTransId: optionalText,
  authentAmount: amount.optional(),
  authentDateTime: dateTime.optional(),
  authentDsTransId: optionalText,
  authentScoreValue: optionalText,
  authentTransStatusReason: optionalText,
  cavv: optionalText,
  cavvAlgorithm: optionalText,
  challengeMode3DS: optionalText,
  eci: optionalText,
  holderAuthentType: optionalText,
  securityIndicator: optionalText,
  txStatus: optionalText,
});

export const authenticationData = z.looseObject({
  cardAuthPolicy: z.looseObject({}).optional(),
  holderAuthentProgram: optionalText,
  threeD: threeD.optional(),
  threeDV2: threeDV2.optional(),
});

/** Sips 1.0 style reference for shops migrated from 1.0. */
export const s10TransactionReference = z.looseObject({
  s10TransactionId: z.string().regex(/^\d{6}$/, '6 digits'),
  s10TransactionIdDate: yearMonthDay,
});

export const customerAccountHistoric = z.looseObject({});
export const paymentMeanData = z.looseObject({});
export const deliveryData = z.looseObject({});
export const travelContext = z.looseObject({});
export const orderContext = z.looseObject({});
