/**
 * The webhook address guard: which addresses are forbidden (including the
 * IPv6 forms that carry a forbidden IPv4 and the numeric URL forms WHATWG
 * normalises), which endpoint URLs are refused and why, and the guarded
 * lookup, with a stand-in resolver and with the real resolution of localhost.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { describe, expect, it } from 'vitest';
import {
  ADDRESS_NOT_ALLOWED,
  endpointUrlProblem,
  guardedLookup,
  inspectEndpointUrl,
  isForbiddenAddress,
  type DestinationPolicy,
  type Resolver,
} from '../../src/webhooks/address-guard.ts';

const STRICT: DestinationPolicy = { allowPrivateAddresses: false, allowHttp: false };
const STRICT_HTTP: DestinationPolicy = { allowPrivateAddresses: false, allowHttp: true };
const LOCAL: DestinationPolicy = { allowPrivateAddresses: true, allowHttp: true };

describe('isForbiddenAddress', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '169.254.169.254',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
    'fd00:ec2::254',
    '100.64.0.1',
    '0.0.0.0',
  ])('forbids %s', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each([
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '192.0.0.8',
    '192.0.2.1',
    '198.18.0.1',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '[::ffff:7f00:1]',
    '::ffff:10.1.2.3',
    '::ffff:a9fe:a9fe',
    '64:ff9b::7f00:1',
    '64:ff9b::169.254.169.254',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    '2001:db8::1',
    'fc00::1',
  ])('forbids %s too', (address) => {
    expect(isForbiddenAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '2001:4860:4860::8888', '93.184.216.34', '::ffff:8.8.8.8', '172.32.0.1'])(
    'allows %s',
    (address) => {
      expect(isForbiddenAddress(address)).toBe(false);
    },
  );

  it('reads numeric IPv4 forms as URLs and resolvers do', () => {
    expect(isForbiddenAddress('2130706433')).toBe(true);
    expect(isForbiddenAddress('0x7f.1')).toBe(true);
    expect(isForbiddenAddress('134744072')).toBe(false); // 8.8.8.8
  });

  it('does not take a name for an address', () => {
    expect(isForbiddenAddress('example.com')).toBe(false);
  });
});

describe('endpointUrlProblem', () => {
  it('refuses what is not an absolute http(s) URL', () => {
    expect(endpointUrlProblem('not a url', LOCAL)).toBe('must be an absolute http(s) URL');
    expect(endpointUrlProblem('/hooks', LOCAL)).toBe('must be an absolute http(s) URL');
    expect(endpointUrlProblem('ftp://x', LOCAL)).toBe('must be an absolute http(s) URL');
  });

  it('requires https unless http is allowed', () => {
    expect(endpointUrlProblem('http://example.com', STRICT)).toBe('must use https');
    expect(endpointUrlProblem('http://example.com', STRICT_HTTP)).toBeUndefined();
  });

  it('refuses credentials in the URL', () => {
    expect(endpointUrlProblem('https://user:pw@example.com', STRICT)).toBe(
      'must not contain credentials',
    );
    expect(endpointUrlProblem('https://user@example.com', LOCAL)).toBe(
      'must not contain credentials',
    );
  });

  it.each([
    ['http://127.0.0.1/', '127.0.0.1'],
    ['http://[::1]/', '::1'],
    ['http://10.0.0.1/', '10.0.0.1'],
    ['http://169.254.169.254/latest/meta-data', '169.254.169.254'],
    ['http://2130706433/', '127.0.0.1'],
    ['http://0x7f.1/', '127.0.0.1'],
    ['http://[::ffff:127.0.0.1]:8080/', '::ffff:7f00:1'],
    ['https://[fd00:ec2::254]/', 'fd00:ec2::254'],
  ])('refuses %s, a private address, unless allowed', (url, address) => {
    expect(endpointUrlProblem(url, STRICT_HTTP)).toBe(
      `resolves to a private or loopback address (${address})`,
    );
    expect(endpointUrlProblem(url, LOCAL)).toBeUndefined();
  });

  it('accepts public https URLs and leaves names to connect time', () => {
    expect(endpointUrlProblem('https://example.com/hooks?x=1', STRICT)).toBeUndefined();
    expect(endpointUrlProblem('https://8.8.8.8:8443/', STRICT)).toBeUndefined();
    expect(endpointUrlProblem('https://[2001:4860:4860::8888]/', STRICT)).toBeUndefined();
    expect(endpointUrlProblem('https://localhost/', STRICT)).toBeUndefined();
  });

  it('tells an address refusal from a syntax one', () => {
    expect(inspectEndpointUrl('http://10.0.0.1/', STRICT_HTTP)).toMatchObject({
      ok: false,
      concerns: 'address',
    });
    expect(inspectEndpointUrl('http://example.com/', STRICT)).toMatchObject({
      ok: false,
      concerns: 'syntax',
    });
    const verdict = inspectEndpointUrl('https://example.com/a', STRICT);
    expect(verdict.ok && verdict.url.pathname).toBe('/a');
  });
});

type LookupResult = {
  error: NodeJS.ErrnoException | null;
  address: unknown;
  family?: number | undefined;
};

function lookupWith(
  policy: Pick<DestinationPolicy, 'allowPrivateAddresses'>,
  hostname: string,
  options: LookupOptions,
  resolve?: Resolver,
): Promise<LookupResult> {
  const lookup = guardedLookup(policy, resolve);
  return new Promise((done) => {
    lookup(hostname, options, (error, address, family) => done({ error, address, family }));
  });
}

/** A resolver that knows a few names, answering like dns.lookup with `all: true`. */
function fakeResolver(table: Record<string, LookupAddress[]>): Resolver {
  const resolve = (
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
  ): void => {
    expect(options.all).toBe(true);
    const addresses = (table[hostname] ?? []).filter(
      ({ family }) => !options.family || family === options.family,
    );
    if (addresses.length === 0) {
      callback(Object.assign(new Error(`${hostname} not found`), { code: 'ENOTFOUND' }), []);
    } else {
      callback(null, addresses);
    }
  };
  return resolve as unknown as Resolver;
}

const resolver = fakeResolver({
  'evil.example': [{ address: '10.0.0.1', family: 4 }],
  'mixed.example': [
    { address: '93.184.216.34', family: 4 },
    { address: '::1', family: 6 },
  ],
  'public.example': [
    { address: '93.184.216.34', family: 4 },
    { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
  ],
});

describe('guardedLookup', () => {
  it('refuses a name that resolves to a private address', async () => {
    const { error } = await lookupWith(
      { allowPrivateAddresses: false },
      'evil.example',
      {},
      resolver,
    );
    expect(error?.code).toBe(ADDRESS_NOT_ALLOWED);
    expect(error?.message).toBe(
      'evil.example resolves to a private or loopback address (10.0.0.1)',
    );
  });

  it('refuses a name when any of its addresses is private', async () => {
    const { error } = await lookupWith(
      { allowPrivateAddresses: false },
      'mixed.example',
      { all: true },
      resolver,
    );
    expect(error?.code).toBe(ADDRESS_NOT_ALLOWED);
  });

  it('refuses the real resolution of localhost', async () => {
    const { error } = await lookupWith({ allowPrivateAddresses: false }, 'localhost', {});
    expect(error?.code).toBe(ADDRESS_NOT_ALLOWED);
    const all = await lookupWith({ allowPrivateAddresses: false }, 'localhost', { all: true });
    expect(all.error?.code).toBe(ADDRESS_NOT_ALLOWED);
  });

  it('answers like dns.lookup: one address, or all of them, within the family asked', async () => {
    const policy = { allowPrivateAddresses: false };
    expect(await lookupWith(policy, 'public.example', {}, resolver)).toEqual({
      error: null,
      address: '93.184.216.34',
      family: 4,
    });
    expect(await lookupWith(policy, 'public.example', { family: 6 }, resolver)).toEqual({
      error: null,
      address: '2606:2800:220:1:248:1893:25c8:1946',
      family: 6,
    });
    const all = await lookupWith(policy, 'public.example', { all: true }, resolver);
    expect(all.error).toBeNull();
    expect(all.address).toHaveLength(2);
  });

  it('passes resolution errors through', async () => {
    const { error } = await lookupWith(
      { allowPrivateAddresses: false },
      'nx.example',
      {},
      resolver,
    );
    expect(error?.code).toBe('ENOTFOUND');
  });

  it('lets private addresses through when the policy allows them', async () => {
    const policy = { allowPrivateAddresses: true };
    expect(await lookupWith(policy, 'evil.example', {}, resolver)).toEqual({
      error: null,
      address: '10.0.0.1',
      family: 4,
    });
    const local = await lookupWith(policy, 'localhost', {});
    expect(local.error).toBeNull();
    expect(isForbiddenAddress(local.address as string)).toBe(true);
  });
});
