/**
 * The client over real HTTP: a node:http server on a free port plays the
 * Office Server, the client talks to it through the undici transport.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/platform/clock.ts';
import { createUndiciTransport, type HttpTransport } from '../../src/platform/http.ts';
import { createLogger } from '../../src/platform/logger.ts';
import {
  createSipsClient,
  SipsRequestError,
  type SipsClientOptions,
} from '../../src/sips/client.ts';
import {
  SEED_TEST_KEY_VERSION,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
} from '../../src/sips/environments.ts';
import { computeSeal, computeSealOfData, sealDataString, verifySeal } from '../../src/sips/seal.ts';
import { SecretKey } from '../../src/sips/secret-key.ts';
import { inquiryAnswer } from '../../src/sips/translate.ts';

const KEY = new SecretKey(SEED_TEST_SECRET_KEY);
const PAN = '4100000000000005';
const CSC = '987';

interface Received {
  path: string;
  contentType: string;
  body: Record<string, unknown>;
}

type Handler = (request: Received, res: ServerResponse, req: IncomingMessage) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
let received: Received[];
let transport: HttpTransport;
let logLines: string[];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: Received = {
        path: req.url ?? '',
        contentType: req.headers['content-type'] ?? '',
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
      };
      received.push(request);
      handler(request, res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  transport = createUndiciTransport({ keepAliveTimeoutMs: 1_000 });
});

afterAll(async () => {
  await transport.close();
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
});

function client(overrides: Partial<SipsClientOptions> = {}) {
  received = [];
  logLines = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  return createSipsClient({
    baseUrl,
    merchantId: SEED_TEST_MERCHANT_ID,
    secretKey: KEY,
    keyVersion: SEED_TEST_KEY_VERSION,
    http: transport,
    clock: systemClock,
    logger: createLogger({ level: 'debug' }, sink),
    timeoutMs: 5_000,
    ...overrides,
  });
}

function answerJson(res: ServerResponse, body: Record<string, unknown>, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sealed(body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, seal: computeSeal(body, KEY) };
}

/** Answers every request with a sealed JSON body. */
function answerSealed(body: Record<string, unknown>): Handler {
  return (_request, res) => answerJson(res, sealed(body));
}

const cardOrder = {
  amount: 2500,
  currencyCode: '978',
  transactionReference: 'TREF0001',
  cardNumber: PAN,
  cardExpiryDate: '203012',
  cardCSCValue: CSC,
  captureMode: 'AUTHOR_CAPTURE',
  captureDay: 0,
  orderChannel: 'INTERNET',
} as const;

const orderAnswer = {
  responseCode: '00',
  acquirerResponseCode: '00',
  authorisationId: '12345',
  maskedPan: '4100##########05',
  transactionReference: 'TREF0001',
};

function expectNoCardData(value: unknown): void {
  const text = JSON.stringify(value);
  expect(text).not.toContain(PAN);
  expect(text).not.toContain(`"${CSC}"`);
  expect(text).not.toContain('203012');
  expect(text).not.toContain(SEED_TEST_SECRET_KEY);
}

describe('Sips client over HTTP', () => {
  it('sends a sealed, complete request and returns a verified ok answer', async () => {
    handler = answerSealed(orderAnswer);
    const result = await client().cardOrder(cardOrder);

    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request?.path).toBe('/rs-services/v2/checkout/cardOrder');
    expect(request?.contentType).toBe('application/json');
    expect(request?.body).toMatchObject({
      ...cardOrder,
      merchantId: SEED_TEST_MERCHANT_ID,
      interfaceVersion: 'IR_WS_2.55',
      keyVersion: '1',
    });
    expect(request?.body).not.toHaveProperty('sealAlgorithm');
    expect(verifySeal(request?.body ?? {}, KEY).valid).toBe(true);

    expect(result).toMatchObject({
      kind: 'ok',
      responseCode: '00',
      code: { action: 'advance' },
      response: { authorisationId: '12345' },
      call: { service: 'cardOrder', url: `${baseUrl}/rs-services/v2/checkout/cardOrder` },
    });
    expect(result.call.durationMs).toBeGreaterThanOrEqual(0);
    expectNoCardData(result.call);
  });

  it('uses each service path and interface prefix', async () => {
    handler = answerSealed({ responseCode: '00', newStatus: 'TO_CAPTURE' });
    const sips = client({ interfaceVersion: '2.58', interfaceVersions: { validate: '2.60' } });
    await sips.refund({
      transactionReference: 'TREF0001',
      operationAmount: '100',
      currencyCode: '978',
    });
    await sips.validate({
      transactionReference: 'TREF0001',
      operationAmount: 100,
      currencyCode: '978',
    });
    expect(received.map((request) => [request.path, request.body.interfaceVersion])).toEqual([
      ['/rs-services/v2/cashManagement/refund', 'CR_WS_2.58'],
      ['/rs-services/v2/cashManagement/validate', 'CR_WS_2.60'],
    ]);
  });

  it('names a non-default seal algorithm in the request and seals with it', async () => {
    handler = (_request, res) =>
      answerJson(res, { ...orderAnswer, seal: computeSeal(orderAnswer, KEY, 'HMAC-SHA-512') });
    const result = await client({ sealAlgorithm: 'HMAC-SHA-512' }).cardOrder(cardOrder);
    const body = received[0]?.body ?? {};
    expect(body.sealAlgorithm).toBe('HMAC-SHA-512');
    expect(String(body.seal)).toHaveLength(128);
    expect(verifySeal(body, KEY).valid).toBe(true);
    expect(result).toMatchObject({ kind: 'ok', sealAlgorithm: 'HMAC-SHA-512' });
  });

  it("accepts an answer sealed with the request's algorithm or with HMAC-SHA-256, and says which", async () => {
    // With no sealAlgorithm of its own, the answer may be sealed with
    // HMAC-SHA-256 whatever the request used (reference §4.2, unconfirmed).
    handler = answerSealed(orderAnswer);
    expect(await client({ sealAlgorithm: 'HMAC-SHA-512' }).cardOrder(cardOrder)).toMatchObject({
      kind: 'ok',
      sealAlgorithm: 'HMAC-SHA-256',
    });
    expect(await client().cardOrder(cardOrder)).toMatchObject({
      kind: 'ok',
      sealAlgorithm: 'HMAC-SHA-256',
    });

    // A third algorithm is neither: a mismatch, its evidence under the request's algorithm.
    handler = (_request, res) =>
      answerJson(res, { ...orderAnswer, seal: computeSeal(orderAnswer, KEY, 'SHA-256') });
    const mismatch = await client({ sealAlgorithm: 'HMAC-SHA-512' }).cardOrder(cardOrder);
    expect(mismatch).toMatchObject({
      kind: 'seal_mismatch',
      seal: {
        reason: 'mismatch',
        algorithm: 'HMAC-SHA-512',
        expected: computeSeal(orderAnswer, KEY, 'HMAC-SHA-512'),
      },
    });

    // An unsealed answer accepted on request carries no algorithm.
    handler = (_request, res) => answerJson(res, orderAnswer);
    const unsealed = await client({ allowUnsealedResponses: true }).cardOrder(cardOrder);
    expect(unsealed.kind).toBe('ok');
    expect(unsealed).not.toHaveProperty('sealAlgorithm');
  });

  it('reports a refusal (05) as refused, final', async () => {
    handler = answerSealed({ ...orderAnswer, responseCode: '05', acquirerResponseCode: '05' });
    const result = await client().cardOrder(cardOrder);
    expect(result).toMatchObject({
      kind: 'refused',
      responseCode: '05',
      code: { action: 'final' },
    });
  });

  it('reports 90 as retryable', async () => {
    handler = answerSealed({ responseCode: '90' });
    const result = await client().cardOrder(cardOrder);
    expect(result).toMatchObject({
      kind: 'retryable',
      responseCode: '90',
      code: { action: 'retry' },
    });
  });

  it('passes errorFieldName along with an invalid answer', async () => {
    handler = answerSealed({ responseCode: '12', errorFieldName: 'orderChannel' });
    const result = await client().cardOrder(cardOrder);
    expect(result).toMatchObject({
      kind: 'invalid',
      responseCode: '12',
      errorFieldName: 'orderChannel',
    });
  });

  it('turns a wrong seal into seal_mismatch with evidence and no card data', async () => {
    handler = (_request, res) =>
      answerJson(res, {
        ...sealed({ ...orderAnswer, cardNumber: PAN }),
        responseCode: '05', // tampered after sealing
      });
    const result = await client().cardOrder(cardOrder);
    expect(result.kind).toBe('seal_mismatch');
    if (result.kind !== 'seal_mismatch') return;
    const tampered = { ...orderAnswer, cardNumber: PAN, responseCode: '05' };
    expect(result.seal).toMatchObject({
      reason: 'mismatch',
      expected: computeSeal(tampered, KEY),
      received: computeSeal({ ...orderAnswer, cardNumber: PAN }, KEY),
    });
    expect(result.seal.data).toContain('4100##########05');
    expect(result.response.cardNumber).toBe('4100##########05');
    expectNoCardData(result);
  });

  it('turns a missing seal into seal_mismatch (reason missing)', async () => {
    handler = (_request, res) => answerJson(res, orderAnswer);
    const result = await client().cardOrder(cardOrder);
    expect(result).toMatchObject({ kind: 'seal_mismatch', seal: { reason: 'missing' } });
    if (result.kind === 'seal_mismatch') expect(result.seal).not.toHaveProperty('received');
  });

  it('accepts an unsealed answer only when allowed, never a wrong seal', async () => {
    handler = (_request, res) => answerJson(res, orderAnswer);
    expect((await client({ allowUnsealedResponses: true }).cardOrder(cardOrder)).kind).toBe('ok');

    handler = (_request, res) => answerJson(res, { ...orderAnswer, seal: 'ab'.repeat(32) });
    expect((await client({ allowUnsealedResponses: true }).cardOrder(cardOrder)).kind).toBe(
      'seal_mismatch',
    );
  });

  it('keeps unknown answer fields, and they count in the seal', async () => {
    const answer = { ...orderAnswer, brandNewField: 'NEW', brandNewContainer: { b: '2', a: '1' } };
    handler = answerSealed(answer);
    const result = await client().cardOrder(cardOrder);
    expect(result.kind).toBe('ok');
    if (result.kind === 'ok') {
      expect(result.response).toMatchObject({
        brandNewField: 'NEW',
        brandNewContainer: { a: '1' },
      });
    }

    // Sealed without the unknown field, then the field added: the seal must fail.
    handler = (_request, res) => answerJson(res, { ...sealed(orderAnswer), brandNewField: 'NEW' });
    expect((await client().cardOrder(cardOrder)).kind).toBe('seal_mismatch');
  });

  it('checks an answer that carries keyVersion and sealAlgorithm over every field but the seal, or the request way', async () => {
    const carrying = { ...orderAnswer, keyVersion: '1', sealAlgorithm: 'HMAC-SHA-256' };
    const allButSeal = computeSealOfData(sealDataString(carrying, new Set(['seal'])), KEY);
    handler = (_request, res) => answerJson(res, { ...carrying, seal: allButSeal });
    expect((await client().cardOrder(cardOrder)).kind).toBe('ok');

    handler = (_request, res) => answerJson(res, { ...carrying, seal: computeSeal(carrying, KEY) });
    expect((await client().cardOrder(cardOrder)).kind).toBe('ok');

    // Either way, a field changed after sealing fails.
    handler = (_request, res) =>
      answerJson(res, { ...carrying, responseCode: '05', seal: allButSeal });
    const tampered = await client().cardOrder(cardOrder);
    expect(tampered.kind).toBe('seal_mismatch');
    if (tampered.kind === 'seal_mismatch') {
      // The evidence is the answer's data string: its keyVersion and algorithm included.
      expect(tampered.seal.data).toBe(
        sealDataString({ ...carrying, responseCode: '05' }, new Set(['seal'])),
      );
    }
  });

  it('reads walletResponseCode for wallet functions', async () => {
    handler = answerSealed({ walletResponseCode: '00', walletPaymentMeanDataList: [] });
    const result = await client().getWalletData({ merchantWalletId: 'WALLET1' });
    expect(result).toMatchObject({ kind: 'ok', responseCode: '00' });
    expect(received[0]?.body.interfaceVersion).toBe('WR_WS_2.55');
  });

  it('takes getTransDataResponseCode as the result of getTransactionData', async () => {
    handler = answerSealed({ getTransDataResponseCode: '25', responseCode: '00' });
    const result = await client().getTransactionData({ transactionReference: 'TREF0001' });
    expect(result).toMatchObject({ kind: 'invalid', responseCode: '25' });

    handler = answerSealed({ responseCode: '00', transactionStatus: 'CAPTURED' });
    expect(await client().getTransactionData({ transactionReference: 'TREF0001' })).toMatchObject({
      kind: 'ok',
      response: { transactionStatus: 'CAPTURED' },
    });
  });

  it("reads a refused transaction's own code in responseCode as the transaction, not a failed read", async () => {
    // No getTransDataResponseCode: responseCode may be the transaction's own
    // code (reference §5.6). The status says the read found the transaction.
    handler = answerSealed({
      responseCode: '05',
      transactionStatus: 'REFUSED',
      originAmount: 2500,
      currentAmount: 0,
      remainingAmount: 0,
    });
    const refused = await client().getTransactionData({ transactionReference: 'TREF0001' });
    expect(refused).toMatchObject({ kind: 'refused', responseCode: '05' });
    expect(inquiryAnswer(refused, 'author_capture')).toEqual({
      found: true,
      view: { state: 'refused', originalAmount: 2500, remainingAmount: 0 },
    });

    // With getTransDataResponseCode naming a failure, the status is not read.
    handler = answerSealed({
      getTransDataResponseCode: '05',
      transactionStatus: 'REFUSED',
    });
    const failed = await client().getTransactionData({ transactionReference: 'TREF0001' });
    expect(inquiryAnswer(failed, 'author_capture')).toMatchObject({ found: 'unclear' });

    // A read that failed describes no transaction, under either field.
    for (const answer of [{ responseCode: '25' }, { getTransDataResponseCode: '25' }]) {
      handler = answerSealed(answer);
      const unknown = await client().getTransactionData({ transactionReference: 'TREF0001' });
      expect(inquiryAnswer(unknown, 'author_capture')).toEqual({ found: false });
    }
  });

  it('reports a timeout as unknown (the call may have been processed)', async () => {
    const pending: ServerResponse[] = [];
    handler = (_request, res) => pending.push(res); // never answers
    const result = await client({ timeoutMs: 200 }).cardOrder(cardOrder);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'timeout' });
    expect(received).toHaveLength(1);
    for (const res of pending) res.destroy();
  });

  it('reports a destroyed connection as unknown/reset', async () => {
    handler = (_request, _res, req) => req.socket.destroy();
    const result = await client().cardOrder(cardOrder);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'reset' });
  });

  it('reports a refused connection as unknown/connect', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await client({ baseUrl: `http://127.0.0.1:${port}` }).cardOrder(cardOrder);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'connect' });
  });

  it('reports HTTP 500 with an HTML page as unknown/http_status', async () => {
    handler = (_request, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html><body><h1>Internal Server Error</h1></body></html>');
    };
    const result = await client().cardOrder(cardOrder);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'http_status', httpStatus: 500 });
  });

  it('reports HTTP 500 even with a sealed JSON body as unknown', async () => {
    handler = (_request, res) => answerJson(res, sealed({ responseCode: '05' }), 503);
    expect(await client().cardOrder(cardOrder)).toMatchObject({ kind: 'unknown', httpStatus: 503 });
  });

  it('reports a non-JSON 200 as unknown/non_json', async () => {
    handler = (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('OK');
    };
    expect(await client().cardOrder(cardOrder)).toMatchObject({
      kind: 'unknown',
      reason: 'non_json',
      httpStatus: 200,
    });
  });

  it('reports the 415 HTML page as unknown/http_status, saying it was probably not processed', async () => {
    handler = (_request, res) => {
      res.writeHead(415, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE HTML><html><head><title>415 Unsupported Media Type</title></head></html>');
    };
    const result = await client().cardOrder(cardOrder);
    expect(result).toMatchObject({ kind: 'unknown', reason: 'http_status', httpStatus: 415 });
    if (result.kind === 'unknown') expect(result.detail).toMatch(/probably not processed/);
  });

  it('reports a sealed JSON answer without a response code as unknown', async () => {
    handler = answerSealed({ something: 'else' });
    expect(await client().cardOrder(cardOrder)).toMatchObject({
      kind: 'unknown',
      reason: 'non_json',
    });
  });

  it('refuses an invalid request before sending anything', async () => {
    handler = answerSealed(orderAnswer);
    const sips = client();
    const attempt = sips.cardOrder({ ...cardOrder, cardNumber: '4100-0000' });
    await expect(attempt).rejects.toBeInstanceOf(SipsRequestError);
    await expect(attempt).rejects.toMatchObject({ field: 'cardNumber', responseCode: '30' });
    await expect(attempt).rejects.not.toThrow(/4100-0000/);

    const { currencyCode: _currency, ...withoutCurrency } = cardOrder;
    await expect(sips.call('cardOrder', withoutCurrency as typeof cardOrder)).rejects.toMatchObject(
      { field: 'currencyCode', responseCode: '12' },
    );
    await expect(sips.cardOrder({ ...cardOrder, amount: 25.5 })).rejects.toThrow(/amount/);
    expect(received).toHaveLength(0);
  });

  it('logs each call at debug without card data or key', async () => {
    handler = answerSealed(orderAnswer);
    await client().cardOrder(cardOrder);
    expect(logLines).toHaveLength(1);
    const line = JSON.parse(logLines[0] ?? '{}') as { sips?: Record<string, unknown> };
    expect(line.sips).toMatchObject({ service: 'cardOrder', responseCode: '00', outcome: 'ok' });
    expect(typeof line.sips?.durationMs).toBe('number');
    expectNoCardData(logLines);
  });
});
