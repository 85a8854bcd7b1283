/**
 * Seal throughput, measured against a bare createHmac over the same data
 * strings in the same run (rounds alternate so both see the same load):
 * - `sealOfData`: our seal over a given data string (key handling, algorithm
 *   choice, hex) — the like-for-like comparison the goal applies to;
 * - `sealOfMessage`: the whole job, data string built from a request object,
 *   then sealed — what a request really costs.
 */
import { createHmac } from 'node:crypto';
import { computeSeal, computeSealOfData, sealDataString } from '../src/sips/seal.ts';
import { SecretKey } from '../src/sips/secret-key.ts';

export interface SealBenchResult {
  messages: number;
  bareHmacPerSecond: number;
  sealOfDataPerSecond: number;
  sealOfMessagePerSecond: number;
  /** sealOfData / bare HMAC over the same data strings. */
  ratio: number;
  /** sealOfMessage / bare HMAC: includes building the data string. */
  messageRatio: number;
  goal: number;
  met: boolean;
}

function sampleMessage(n: number): Record<string, unknown> {
  return {
    amount: String(1000 + n),
    captureDay: '0',
    captureMode: 'AUTHOR_CAPTURE',
    cardCSCValue: '123',
    cardExpiryDate: '203012',
    cardNumber: '4000000000000002',
    currencyCode: '978',
    customerContact: { email: `customer${n}@example.com` },
    interfaceVersion: 'IR_WS_2.55',
    keyVersion: '1',
    merchantId: '201040040170001',
    orderChannel: 'INTERNET',
    orderId: `ORD${n}`,
    transactionOrigin: 'SO_WEBAPPLI',
    transactionReference: `REF${n}X${n * 7}`,
  };
}

function seconds(run: () => void): number {
  const started = performance.now();
  run();
  return (performance.now() - started) / 1000;
}

export function measureSeal(count: number): SealBenchResult {
  const key = new SecretKey('rxSP61eeP_oNi5TxCD7Ngy9YcwC8MLw6OlmFGGcsY54');
  const messages = Array.from({ length: count }, (_, n) => sampleMessage(n));
  const dataStrings = messages.map((message) => sealDataString(message));
  const keyBytes = Buffer.from(key.reveal(), 'utf8');
  let sink = 0;
  const bare = () => {
    for (const data of dataStrings) {
      sink += createHmac('sha256', keyBytes).update(data, 'utf8').digest('hex').length;
    }
  };
  const ofData = () => {
    for (const data of dataStrings) sink += computeSealOfData(data, key).length;
  };
  const ofMessage = () => {
    for (const message of messages) sink += computeSeal(message, key).length;
  };
  bare();
  ofData();
  ofMessage();
  let bareSeconds = 0;
  let ofDataSeconds = 0;
  let ofMessageSeconds = 0;
  const rounds = 5;
  for (let round = 0; round < rounds; round++) {
    bareSeconds += seconds(bare);
    ofDataSeconds += seconds(ofData);
    ofMessageSeconds += seconds(ofMessage);
  }
  if (sink === 0) throw new Error('unreachable');
  const total = count * rounds;
  const ratio = bareSeconds / ofDataSeconds;
  return {
    messages: count,
    bareHmacPerSecond: Math.round(total / bareSeconds),
    sealOfDataPerSecond: Math.round(total / ofDataSeconds),
    sealOfMessagePerSecond: Math.round(total / ofMessageSeconds),
    ratio: Number(ratio.toFixed(3)),
    messageRatio: Number((bareSeconds / ofMessageSeconds).toFixed(3)),
    goal: 0.8,
    met: ratio >= 0.8,
  };
}
