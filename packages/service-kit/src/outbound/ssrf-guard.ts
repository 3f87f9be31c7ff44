import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, type Dispatcher, request as undiciRequest } from 'undici';

/**
 * Every outbound request the studio makes to a URL a tenant typed in (CronPing alert webhooks, WebhookVault
 * replays and forwarding, DocuMint callbacks, ops-agent alerts) goes through this module, so that a tenant
 * cannot point us at 127.0.0.1, the cloud metadata endpoint or another service on the private network.
 */

/** The environment variable the allowlist is read from; every error about it names it. */
export const OUTBOUND_ALLOWLIST_ENV = 'OUTBOUND_ALLOWLIST';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

export interface OutboundAllowlist {
  /** Lower-case hostnames without a trailing dot, matched exactly against the URL's hostname. */
  readonly hostnames: ReadonlySet<string>;
  /** Networks (a single address is a /32 or /128), matched against the address the host resolved to. */
  readonly networks: ReadonlyArray<readonly [IpAddress, number]>;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a hostname to every address it has. Injected in tests so that no real DNS is needed. */
export type OutboundLookup = (hostname: string) => Promise<ReadonlyArray<ResolvedAddress>>;

export interface OutboundBlockedDetails {
  /** The refused URL without credentials, query or fragment (those can carry secrets and end up in logs). */
  url: string;
  /** The refused IP address, or null when the URL itself was refused (bad scheme, not a URL). */
  address: string | null;
  /** The ipaddr.js range name ('loopback', 'private', 'linkLocal', ...), 'unsupported_scheme' or 'invalid_url'. */
  reason: string;
}

export class OutboundBlockedError extends Error {
  readonly code = 'outbound_blocked';
  readonly url: string;
  readonly address: string | null;
  readonly reason: string;

  constructor(details: OutboundBlockedDetails, options?: ErrorOptions) {
    super(describeBlock(details), options);
    this.name = 'OutboundBlockedError';
    this.url = details.url;
    this.address = details.address;
    this.reason = details.reason;
  }
}

export class OutboundTimeoutError extends Error {
  readonly code = 'outbound_timeout';
  readonly url: string;
  readonly timeoutMs: number;

  constructor(details: { url: string; timeoutMs: number }, options?: ErrorOptions) {
    super(`request to ${details.url} timed out after ${details.timeoutMs} ms`, options);
    this.name = 'OutboundTimeoutError';
    this.url = details.url;
    this.timeoutMs = details.timeoutMs;
  }
}

function describeBlock({ url, address, reason }: OutboundBlockedDetails): string {
  if (address !== null) {
    return `refusing to connect to ${address} (${reason}) for ${url}: set ${OUTBOUND_ALLOWLIST_ENV} to allow it`;
  }
  if (reason === 'unsupported_scheme') {
    return `refusing ${url}: only http: and https: URLs may be requested`;
  }
  return 'refusing an invalid URL: expected an absolute http: or https: URL';
}

// ---------------------------------------------------------------------------------------------------------
// Allowlist

const HOSTNAME_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
// The WHATWG URL parser reads a host whose last label is a number as an IPv4 address ("1.2.3" becomes
// 1.2.0.3), so such an entry could never match a URL hostname and is almost certainly a typo.
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/;

/**
 * Parses `OUTBOUND_ALLOWLIST`: comma-separated hostnames (exact, case-insensitive), IP addresses or CIDRs.
 * Unset means "nothing extra is allowed". An empty entry (including an empty variable, per the house rule
 * that empty strings are errors) or a malformed one throws, naming the variable and the entry.
 */
export function parseOutboundAllowlist(value: string | undefined): OutboundAllowlist {
  const hostnames = new Set<string>();
  const networks: Array<readonly [IpAddress, number]> = [];
  if (value === undefined) return { hostnames, networks };

  for (const [index, raw] of value.split(',').entries()) {
    const entry = raw.trim();
    if (entry === '') {
      throw new Error(
        `${OUTBOUND_ALLOWLIST_ENV} has an empty entry at position ${index + 1} in "${value}": remove the stray comma, or unset the variable to allow nothing`,
      );
    }
    // A URL such as http://localhost is a hostname mistake, not a CIDR one; let the hostname check name it.
    if (entry.includes('/') && !entry.includes('://')) {
      networks.push(parseNetworkEntry(entry));
      continue;
    }
    const address = parseStrictIp(entry);
    if (address !== undefined) {
      networks.push([address, address.kind() === 'ipv4' ? 32 : 128]);
      continue;
    }
    hostnames.add(parseHostnameEntry(entry));
  }
  return { hostnames, networks };
}

// ipaddr.js also accepts shorthand such as "127.1" or "0x7f.0.0.1"; an allowlist entry has to say exactly what
// it means, so only dotted-quad IPv4 and plain IPv6 (no zone id) are accepted.
function parseStrictIp(text: string): IpAddress | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return undefined;
}

function parseNetworkEntry(entry: string): readonly [IpAddress, number] {
  const [addressText = '', prefixText = '', ...rest] = entry.split('/');
  const address = parseStrictIp(addressText);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  const maxPrefix = address?.kind() === 'ipv4' ? 32 : 128;
  if (address === undefined || rest.length > 0 || !(prefix <= maxPrefix)) {
    throw new Error(
      `${OUTBOUND_ALLOWLIST_ENV} entry "${entry}" is not a valid CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)`,
    );
  }
  return [address, prefix];
}

function parseHostnameEntry(entry: string): string {
  const hostname = normaliseHostname(entry);
  const labels = hostname.split('.');
  const lastLabel = labels[labels.length - 1] ?? '';
  if (
    hostname.length > 253 ||
    !labels.every((label) => HOSTNAME_LABEL.test(label)) ||
    NUMERIC_LABEL.test(lastLabel)
  ) {
    throw new Error(
      `${OUTBOUND_ALLOWLIST_ENV} entry "${entry}" is not a hostname, an IP address or a CIDR (e.g. localhost, 127.0.0.1, 10.0.0.0/8)`,
    );
  }
  return hostname;
}

function normaliseHostname(hostname: string): string {
  const lower = hostname.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function allowsHostname(allowlist: OutboundAllowlist, hostname: string): boolean {
  return allowlist.hostnames.has(normaliseHostname(hostname));
}

function allowsAddress(allowlist: OutboundAllowlist, address: IpAddress): boolean {
  // `::ffff:127.0.0.1` is 127.0.0.1 on a dual-stack socket, so an IPv4 entry covers its mapped form too.
  const forms: IpAddress[] = [address];
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) forms.push(address.toIPv4Address());
  return allowlist.networks.some(([network, prefix]) =>
    forms.some((form) => form.kind() === network.kind() && form.match(network, prefix)),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Address checks

// ipaddr.js calls IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) 'unicast'; nothing public
// lives there, so they are refused along with the ranges ipaddr.js names.
const IPV4_COMPATIBLE = ipaddr.IPv6.parse('::');

/** Returns why the address is refused, or undefined when it may be connected to. */
function blockedReason(address: string, allowlist: OutboundAllowlist): string | undefined {
  if (net.isIP(address) === 0) return 'invalid_address';
  const parsed = ipaddr.parse(address);
  if (allowsAddress(allowlist, parsed)) return undefined;
  // Anything that is not plain 'unicast' is refused: loopback, private, linkLocal, carrierGradeNat,
  // multicast, unspecified, broadcast, reserved, uniqueLocal, ipv4Mapped, 6to4, teredo, NAT64 (rfc6052), ...
  const range = parsed.range();
  if (range !== 'unicast') return range;
  if (parsed instanceof ipaddr.IPv6 && parsed.match(IPV4_COMPATIBLE, 96)) return 'ipv4Compatible';
  return undefined;
}

function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return net.isIP(bare) === 0 ? undefined : bare;
}

/**
 * Resolves the host once and returns only the addresses that pass the check. Mixed answers are filtered
 * rather than refused outright: we never connect to a refused address either way, and a dual-stack name such
 * as localhost (127.0.0.1 and ::1) keeps working when only one of its addresses is allowlisted.
 */
async function resolveCheckedAddresses(
  hostname: string,
  allowlist: OutboundAllowlist,
  lookup: OutboundLookup,
  url: string,
): Promise<ResolvedAddress[]> {
  const literal = ipLiteral(hostname);
  if (literal !== undefined) {
    const reason = blockedReason(literal, allowlist);
    if (reason !== undefined) throw new OutboundBlockedError({ url, address: literal, reason });
    return [{ address: literal, family: net.isIPv6(literal) ? 6 : 4 }];
  }

  const resolved = await lookup(hostname);
  const hostnameAllowed = allowsHostname(allowlist, hostname);
  const allowed: ResolvedAddress[] = [];
  let firstRefused: { address: string; reason: string } | undefined;
  for (const candidate of resolved) {
    const reason = hostnameAllowed
      ? net.isIP(candidate.address) === 0
        ? 'invalid_address'
        : undefined
      : blockedReason(candidate.address, allowlist);
    if (reason === undefined) allowed.push(candidate);
    else firstRefused ??= { address: candidate.address, reason };
  }
  if (allowed.length > 0) return allowed;
  if (firstRefused !== undefined) throw new OutboundBlockedError({ url, ...firstRefused });
  throw Object.assign(new Error(`${hostname} did not resolve to any address`), { code: 'ENOTFOUND' });
}

const systemLookup: OutboundLookup = async (hostname) => {
  const results = await dns.promises.lookup(hostname, { all: true });
  return results.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

function parseOutboundUrl(input: string | URL): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch (error) {
    throw new OutboundBlockedError({ url: '', address: null, reason: 'invalid_url' }, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundBlockedError({ url: redactUrl(url), address: null, reason: 'unsupported_scheme' });
  }
  return url;
}

// Credentials and query strings can carry tokens; errors end up in logs and delivery records.
function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

function withUrl(error: OutboundBlockedError, url: string): OutboundBlockedError {
  return new OutboundBlockedError({ url, address: error.address, reason: error.reason }, { cause: error });
}

export interface CheckedOutboundTarget {
  url: URL;
  /** The address a connection would go to first. */
  address: string;
  /** Every resolved address that passed the check. */
  addresses: string[];
}

/**
 * Checks a target URL at configuration time so a route can answer 400 straight away. It is advisory: DNS can
 * change before delivery, so the client checks again, on the address it actually connects to. A name that
 * does not resolve rejects with the resolver's error (e.g. ENOTFOUND), not OutboundBlockedError.
 */
export async function checkOutboundUrl(
  url: string | URL,
  allowlist: OutboundAllowlist,
  options: { lookup?: OutboundLookup } = {},
): Promise<CheckedOutboundTarget> {
  const parsed = parseOutboundUrl(url);
  const addresses = await resolveCheckedAddresses(
    parsed.hostname,
    allowlist,
    options.lookup ?? systemLookup,
    redactUrl(parsed),
  );
  const [first] = addresses;
  if (first === undefined) throw new Error(`${parsed.hostname} did not resolve to any address`);
  return { url: parsed, address: first.address, addresses: addresses.map(({ address }) => address) };
}

// ---------------------------------------------------------------------------------------------------------
// Client

export interface OutboundClientOptions {
  allowlist: OutboundAllowlist;
  /** Whole-request budget (connect, headers and body); default 10 s. */
  timeoutMs?: number;
  /** Response bodies are cut at this many bytes; default 1 MiB. */
  maxResponseBytes?: number;
  /** Resolver override, for tests; defaults to the system resolver (dns.lookup, which reads /etc/hosts). */
  lookup?: OutboundLookup;
}

export interface OutboundRequestOptions {
  method?: Dispatcher.HttpMethod;
  /**
   * A record, or a flat `[name, value, name, value, …]` list: the list keeps order, repeats and the case of
   * names, which a replay of a captured request needs byte for byte.
   */
  headers?: Record<string, string> | string[];
  body?: string | Uint8Array;
  timeoutMs?: number;
}

export interface OutboundResponse {
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  /** At most maxResponseBytes; the rest of the response is discarded. */
  body: Buffer;
  /** True when the body was cut at maxResponseBytes. */
  truncated: boolean;
  durationMs: number;
}

export interface OutboundClient {
  /** The guarded undici Agent; requests made through it directly are checked too. */
  readonly dispatcher: Agent;
  /** Sends one request. Redirects are returned to the caller as-is, never followed. */
  request(url: string | URL, options?: OutboundRequestOptions): Promise<OutboundResponse>;
  close(): Promise<void>;
}

export function createOutboundClient(options: OutboundClientOptions): OutboundClient {
  const { allowlist } = options;
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const lookup = options.lookup ?? systemLookup;

  // Node's net.connect calls `lookup` for names and connects to exactly the addresses it hands back, so the
  // host is resolved once and the check is made on the address used: no second resolution, no DNS-rebinding
  // window. With autoSelectFamily (Node 20's default) it asks for every address and tries them in turn.
  const guardedLookup: net.LookupFunction = (hostname, lookupOptions, callback) => {
    resolveCheckedAddresses(hostname, allowlist, lookup, hostname).then(
      (addresses) => {
        const family =
          lookupOptions.family === 'IPv4' ? 4 : lookupOptions.family === 'IPv6' ? 6 : lookupOptions.family;
        const wanted =
          family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
        const [first] = wanted;
        if (first === undefined) {
          callback(
            Object.assign(new Error(`${hostname} has no IPv${family} address`), { code: 'ENOTFOUND' }),
            '',
          );
        } else if (lookupOptions.all) {
          callback(null, wanted);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: Error) => callback(error, ''),
    );
  };
  const connectChecked = buildConnector({ timeout: defaultTimeoutMs, lookup: guardedLookup });

  const connect: buildConnector.connector = (connectOptions, callback) => {
    const origin = `${connectOptions.protocol}//${connectOptions.host ?? connectOptions.hostname}/`;
    // Node does not call `lookup` for an IP literal, so a literal host is checked here, before any socket.
    const literal = ipLiteral(connectOptions.hostname);
    const reason = literal === undefined ? undefined : blockedReason(literal, allowlist);
    if (literal !== undefined && reason !== undefined) {
      callback(new OutboundBlockedError({ url: origin, address: literal, reason }), null);
      return;
    }
    connectChecked(connectOptions, (...result) => {
      const [error] = result;
      if (error instanceof OutboundBlockedError) callback(withUrl(error, origin), null);
      else callback(...result);
    });
  };

  const dispatcher = new Agent({ connect });

  return {
    dispatcher,

    async request(input, requestOptions = {}) {
      const url = parseOutboundUrl(input);
      const displayUrl = redactUrl(url);
      // Refuse blocked IP literals up front so that not even a connection attempt is queued; the connector
      // checks them again for callers that use `dispatcher` directly.
      const literal = ipLiteral(url.hostname);
      const literalReason = literal === undefined ? undefined : blockedReason(literal, allowlist);
      if (literal !== undefined && literalReason !== undefined) {
        throw new OutboundBlockedError({ url: displayUrl, address: literal, reason: literalReason });
      }

      const timeoutMs = requestOptions.timeoutMs ?? defaultTimeoutMs;
      // One signal covers connect, headers and body, so a server that trickles bytes cannot hold us open.
      const signal = AbortSignal.timeout(timeoutMs);
      const startedAt = performance.now();
      try {
        const response = await undiciRequest(url, {
          dispatcher,
          method: requestOptions.method ?? 'GET',
          headers: requestOptions.headers,
          body: requestOptions.body,
          signal,
        });
        const { body, truncated } = await readCapped(response.body, maxResponseBytes);
        return {
          status: response.statusCode,
          headers: response.headers,
          body,
          truncated,
          durationMs: Math.round(performance.now() - startedAt),
        };
      } catch (error) {
        if (error instanceof OutboundBlockedError) throw withUrl(error, displayUrl);
        if (signal.aborted) throw new OutboundTimeoutError({ url: displayUrl, timeoutMs }, { cause: error });
        throw error;
      }
    },

    close() {
      return dispatcher.close();
    },
  };
}

async function readCapped(
  stream: AsyncIterable<Buffer>,
  maxBytes: number,
): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of stream) {
    if (size + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - size));
      size = maxBytes;
      truncated = true;
      // Leaving the loop destroys the body stream, so undici drops the connection instead of reading on.
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { body: Buffer.concat(chunks, size), truncated };
}
