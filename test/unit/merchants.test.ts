/**
 * MERCHANTS_FILE: the shops one deployment serves. A file is used whole or
 * not at all; every problem is named by its path and no secret is echoed.
 */
import { describe, expect, it } from 'vitest';
import { MerchantsConfigError, parseMerchants } from '../../src/config/merchants.ts';

const SECRET_A = 'shop-a-secret-key-version-1-0123456789';
const SECRET_A2 = 'shop-a-secret-key-version-2-0123456789';

function problemsOf(file: unknown, env: Record<string, string> = {}): readonly string[] {
  try {
    parseMerchants(typeof file === 'string' ? file : JSON.stringify(file), { env });
  } catch (error) {
    if (error instanceof MerchantsConfigError) return error.problems;
    throw error;
  }
  return [];
}

const shop = (extra: Record<string, unknown> = {}) => ({
  id: 'shop-a',
  environment: 'test',
  merchantId: '201040040170001',
  keys: [{ version: 1, secret: SECRET_A }],
  ...extra,
});

describe('parseMerchants', () => {
  it('reads shops, with the active key first and older keys still accepted', () => {
    const merchants = parseMerchants(
      JSON.stringify({
        merchants: [
          shop({
            keys: [
              { version: '1', secret: SECRET_A },
              { version: '2', secret: 'env:SHOP_A_KEY_2', active: true },
            ],
            defaults: { captureMode: 'validation' },
          }),
          shop({ id: 'shop-b', environment: 'simulator', merchantId: '011223344550000' }),
        ],
      }),
      { env: { SHOP_A_KEY_2: SECRET_A2 }, simulatorUrl: 'http://127.0.0.1:7070' },
    );
    const a = merchants.get('shop-a');
    expect(a?.activeKey.version).toBe('2');
    expect(a?.acceptedKeys.map((key) => key.version)).toEqual(['2', '1']);
    expect(a?.baseUrl).toMatch(/^https:\/\//);
    expect(a?.defaults).toEqual({ captureMode: 'validation' });
    expect(merchants.get('shop-b')?.baseUrl).toBe('http://127.0.0.1:7070');
  });

  it('refuses malformed JSON', () => {
    expect(problemsOf('{"merchants": [')).toEqual([
      expect.stringMatching(/^MERCHANTS_FILE: not JSON/),
    ]);
  });

  it('names every problem of a bad file by its path, never echoing a secret', () => {
    const problems = problemsOf({
      merchants: [
        shop({ keys: [{ version: 1 }] }),
        shop({ id: 'Shop B', merchantId: '123' }),
        shop({ id: 'shop-c', environment: 'moon' }),
      ],
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^merchants\[0\]\.keys\[0\]\.secret: /),
        expect.stringMatching(/^merchants\[1\]\.id: /),
        expect.stringMatching(/^merchants\[1\]\.merchantId: a Sips merchantId has 15 digits/),
      ]),
    );
    expect(problems.join('\n')).not.toContain(SECRET_A);
  });

  it('refuses duplicate ids, an unknown environment, a missing env secret and two active keys', () => {
    const problems = problemsOf({
      merchants: [
        shop(),
        shop(),
        shop({ id: 'shop-c', environment: 'moon' }),
        shop({ id: 'shop-d', keys: [{ version: 1, secret: 'env:NOT_SET' }] }),
        shop({
          id: 'shop-e',
          keys: [
            { version: 1, secret: SECRET_A, active: true },
            { version: 2, secret: SECRET_A2, active: true },
          ],
        }),
      ],
    });
    expect(problems).toEqual([
      'merchants[1].id: "shop-a" is used twice',
      expect.stringMatching(/^merchants\[2\]\.environment: .*unknown environment/),
      'merchants[3].keys[0].secret: the environment variable NOT_SET is not set',
      'merchants[4].keys: exactly one key must be "active": true (it has 2)',
    ]);
  });

  it('refuses an empty list and unknown fields', () => {
    expect(problemsOf({ merchants: [] })).toEqual([expect.stringMatching(/^merchants: /)]);
    expect(problemsOf({ merchants: [shop({ colour: 'red' })] })).toEqual([
      expect.stringMatching(/^merchants\[0\]: .*colour/),
    ]);
  });
});
