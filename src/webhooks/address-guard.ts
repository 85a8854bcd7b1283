/**
 * Where webhooks may go. Endpoint URLs are chosen by merchants, so without a
 * guard a webhook could reach our own network: loopback services, private
 * ranges, the cloud metadata address (SSRF). Two checks:
 * - when a URL is registered or sent to, its syntax and, when its host is a
 *   literal IP, that address (`endpointUrlProblem`);
 * - when a name is connected to, every address it resolves to
 *   (`guardedLookup`, the `lookup` of the sending agents). The address
 *   connected to is the one checked, so a name that resolves to a public
 *   address when registered and to a private one later (DNS rebinding) is
 *   refused all the same.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface DestinationPolicy {
  /** Loopback, private, link-local, CGNAT, multicast, unspecified and metadata addresses are allowed (tests, local development). */
  allowPrivateAddresses: boolean;
  /** http:// URLs are allowed (otherwise https only). */
  allowHttp: boolean;
}

/** The resolver behind `guardedLookup`: `dns.lookup` or a stand-in of the same shape. */
export type Resolver = typeof dnsLookup;

/** The `code` of the error a guarded lookup fails with when a name resolves to a forbidden address. */
export const ADDRESS_NOT_ALLOWED = 'EADDRNOTALLOWED';

const IPV4_RANGES: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['168.63.129.16', 32], // a cloud platform's host endpoint (metadata, DNS)
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast (255.255.255.255)
];

const IPV6_RANGES: ReadonlyArray<readonly [string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local, cloud metadata (fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed by some networks)
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
  ['2001::', 32], // Teredo: tunnels to an IPv4 address
  ['100::', 64], // discard-only
  ['64:ff9b:1::', 48], // local-use IPv4/IPv6 translation
];

const FORBIDDEN = new BlockList();
for (const [network, prefix] of IPV4_RANGES) FORBIDDEN.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of IPV6_RANGES) FORBIDDEN.addSubnet(network, prefix, 'ipv6');

/** The eight 16-bit groups of a valid IPv6 address text (zone id already removed). */
function ipv6Groups(address: string): number[] {
  const text = address.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_, a: string, b: string, c: string, d: string) =>
      `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => parseInt(group, 16));
  const first = parse(head);
  if (tail === undefined) return first;
  const last = parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

/**
 * The IPv4 address an IPv6 address carries, for the forms that reach it:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
 * (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
 */
function embeddedIpv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  const v4 = (high: number, low: number): string =>
    [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  const [g0 = 0, g1 = 0, g2 = 0, , , g5 = 0, g6 = 0, g7 = 0] = g;
  if (zeros(0, 5) && (g5 === 0xffff || g5 === 0)) return v4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && zeros(2, 6)) return v4(g6, g7);
  if (g0 === 0x2002) return v4(g1, g2);
  return undefined;
}

/** Whether an IP address (v4 or v6 text, with or without brackets) is one webhooks never go to unless allowed. */
export function isForbiddenAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const text = bare.split('%')[0] ?? ''; // an IPv6 zone id (fe80::1%eth0) names an interface
  const family = isIP(text);
  if (family === 4) return FORBIDDEN.check(text, 'ipv4');
  if (family === 6) {
    if (FORBIDDEN.check(text, 'ipv6')) return true;
    const v4 = embeddedIpv4(text);
    return v4 !== undefined && FORBIDDEN.check(v4, 'ipv4');
  }
  // Other numeric IPv4 forms (2130706433, 0x7f.1, 0177.0.0.1) are read the
  // way URLs and resolvers read them.
  if (/^[0-9a-fx.]+$/i.test(text)) {
    const normalised = hostOf(text);
    if (normalised !== undefined && isIP(normalised) === 4) {
      return FORBIDDEN.check(normalised, 'ipv4');
    }
  }
  return false;
}

function hostOf(text: string): string | undefined {
  try {
    return new URL(`http://${text}/`).hostname;
  } catch {
    return undefined;
  }
}

/** A URL checked for webhooks: parsed, or refused for its syntax or for its address. */
export type EndpointVerdict =
  { ok: true; url: URL } | { ok: false; concerns: 'syntax' | 'address'; problem: string };

/** The private-address message, shared by URL checks and refused lookups. */
function privateAddressProblem(address: string): string {
  return `resolves to a private or loopback address (${address})`;
}

/** `endpointUrlProblem` with the parsed URL, and whether a refusal is about the address. */
export function inspectEndpointUrl(url: string, policy: DestinationPolicy): EndpointVerdict {
  const syntax = (problem: string): EndpointVerdict => ({ ok: false, concerns: 'syntax', problem });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return syntax('must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return syntax('must be an absolute http(s) URL');
  }
  if (parsed.protocol === 'http:' && !policy.allowHttp) return syntax('must use https');
  if (parsed.username !== '' || parsed.password !== '') {
    return syntax('must not contain credentials');
  }
  if (parsed.hostname === '') return syntax('must be an absolute http(s) URL');
  // WHATWG URL has already normalised numeric IPv4 forms; IPv6 keeps its brackets.
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!policy.allowPrivateAddresses && isIP(host) !== 0 && isForbiddenAddress(host)) {
    return { ok: false, concerns: 'address', problem: privateAddressProblem(host) };
  }
  return { ok: true, url: parsed };
}

/** Why a URL may not receive webhooks, or undefined when it may (syntax and literal-IP check only; names are checked at connect time). */
export function endpointUrlProblem(url: string, policy: DestinationPolicy): string | undefined {
  const verdict = inspectEndpointUrl(url, policy);
  return verdict.ok ? undefined : verdict.problem;
}

function lookupError(code: string, message: string, hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, hostname, syscall: 'getaddrinfo' });
}

/**
 * A `lookup` for node:net/http connect options: resolves like dns.lookup
 * (honouring `options.all` and `family`), and fails with an error whose
 * `code` is `ADDRESS_NOT_ALLOWED` when any resolved address is forbidden and
 * the policy does not allow private addresses.
 */
export function guardedLookup(
  policy: Pick<DestinationPolicy, 'allowPrivateAddresses'>,
  resolve: Resolver = dnsLookup,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '');
      const refused = policy.allowPrivateAddresses
        ? undefined
        : addresses.find(({ address }) => isForbiddenAddress(address));
      if (refused) {
        const message = `${hostname} ${privateAddressProblem(refused.address)}`;
        return callback(lookupError(ADDRESS_NOT_ALLOWED, message, hostname), '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(lookupError('ENOTFOUND', `${hostname} not found`, hostname), '');
      callback(null, first.address, first.family);
    });
  };
}
