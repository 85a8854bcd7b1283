/**
 * Two merchants on the simulator, `brand-a` (the simulator's test shop) and
 * `brand-b` (its example shop), for tests of keys bound to one merchant.
 */
import { parseMerchants } from '../../src/config/merchants.ts';
import {
  SEED_EXAMPLE_MERCHANT_ID,
  SEED_EXAMPLE_SECRET_KEY,
  SEED_TEST_MERCHANT_ID,
  SEED_TEST_SECRET_KEY,
} from '../../src/sips/environments.ts';

export function brandMerchants(simulatorUrl: string) {
  return parseMerchants(
    JSON.stringify({
      merchants: [
        {
          id: 'brand-a',
          environment: 'simulator',
          merchantId: SEED_TEST_MERCHANT_ID,
          keys: [{ version: 1, secret: SEED_TEST_SECRET_KEY }],
        },
        {
          id: 'brand-b',
          environment: 'simulator',
          merchantId: SEED_EXAMPLE_MERCHANT_ID,
          keys: [{ version: 1, secret: SEED_EXAMPLE_SECRET_KEY }],
        },
      ],
    }),
    { simulatorUrl },
  );
}
