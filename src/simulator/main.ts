/**
 * `npm run simulator`: the simulator as its own process.
 *
 *   SIMULATOR_PORT     listening port            (default 7070)
 *   SIMULATOR_HOST     listening address         (default 127.0.0.1)
 *   SIMULATOR_CONTROL  1 to serve /_control/     (default off)
 *   SIMULATOR_PUBLIC_URL  base URL for browsers  (default http://host:port)
 *   SIMULATOR_LAST_TWO_DIGITS  1: unknown cards answer their last two digits
 *   SIMULATOR_INQUIRY_CODE_FIELD    getTransDataResponseCode (default) | responseCode
 *   SIMULATOR_ANSWER_SEAL_ALGORITHM request (default) | HMAC-SHA-256
 *   LOG_LEVEL          pino level                (default info)
 */
import { createLogger } from '../platform/logger.ts';
import { SEED_TEST_MERCHANT } from './merchants.ts';
import { namedReadings, readingsChange } from './readings.ts';
import { startSimulator } from './simulator.ts';

const env = process.env;
const flag = (value: string | undefined) => value === '1' || value === 'true';
// A value that is not one of the readings stops the start (zod names it).
const readings = namedReadings(
  readingsChange.parse({
    inquiryCodeField: env.SIMULATOR_INQUIRY_CODE_FIELD || undefined,
    answerSealAlgorithm: env.SIMULATOR_ANSWER_SEAL_ALGORITHM || undefined,
  }),
);

const simulator = await startSimulator({
  port: Number(env.SIMULATOR_PORT ?? 7070),
  host: env.SIMULATOR_HOST ?? '127.0.0.1',
  control: flag(env.SIMULATOR_CONTROL),
  lastTwoDigits: flag(env.SIMULATOR_LAST_TWO_DIGITS),
  ...readings,
  logger: createLogger({ level: env.LOG_LEVEL ?? 'info', name: 'simulator' }),
  ...(env.SIMULATOR_PUBLIC_URL ? { publicUrl: env.SIMULATOR_PUBLIC_URL } : {}),
});

console.log(`Sips Office Server simulator listening on ${simulator.url}`);
console.log(
  `  test merchant ${SEED_TEST_MERCHANT.merchantId}, key version ${SEED_TEST_MERCHANT.keyVersion}, key ${SEED_TEST_MERCHANT.secretKey}`,
);
console.log(
  `  control endpoints: ${flag(env.SIMULATOR_CONTROL) ? `${simulator.url}/_control/` : 'off'}`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void simulator.close().then(() => process.exit(0));
  });
}
