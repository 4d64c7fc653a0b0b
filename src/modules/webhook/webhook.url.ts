import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where webhooks may go. Outside production any http(s) URL is accepted (developers point them at
 * localhost). In production a URL must be https and every address its host resolves to must be a
 * public unicast address: no loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
 * (169.254/16 — cloud metadata —, fe80::/10), unspecified, carrier-grade NAT, multicast or reserved
 * address, so that a merchant cannot make the server call into its own network (SSRF). The check
 * runs at registration and again before every attempt, on the addresses the attempt then connects
 * to, so a name that later resolves elsewhere (DNS rebinding) is caught too.
 */

export type Resolve = (host: string) => Promise<{ address: string; family: number }[]>;

export const systemResolve: Resolve = (host) => lookup(host, { all: true, verbatim: true });

export const MAX_URL_LENGTH = 2048;

/** A URL that may not be used, with the reason. */
export class UrlRefused extends Error {}

/** The URL's form: parsed, http(s) (https only when `publicOnly`), no credentials. */
export function parseEndpointUrl(raw: string, publicOnly: boolean): URL {
  const text = raw.trim();
  if (text.length === 0 || text.length > MAX_URL_LENGTH)
    throw new UrlRefused(`The URL must have 1 to ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UrlRefused('The URL is malformed');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UrlRefused('The URL must use http or https');
  if (publicOnly && url.protocol !== 'https:') throw new UrlRefused('The URL must use https');
  if (url.username || url.password) throw new UrlRefused('The URL must not contain credentials');
  if (!url.hostname) throw new UrlRefused('The URL has no host');
  url.hash = '';
  return url;
}

/** What kind of non-public address this is ("loopback", "private", …), or null for a public one. */
export function nonPublicRange(address: string): string | null {
  try {
    const range = ipaddr.process(address).range(); // IPv4-mapped IPv6 is judged as IPv4
    return range === 'unicast' ? null : range;
  } catch {
    return 'invalid';
  }
}

/** URL.hostname keeps the brackets of an IPv6 literal. */
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

export interface Target {
  address: string;
  family: 4 | 6;
}

/**
 * The address to connect to for `url`: its literal IP, or the first address its name resolves to.
 * With `publicOnly`, every resolved address must be public (one private answer among public ones
 * is refused too: which one a connection would use is not ours to predict).
 */
export async function resolveTarget(url: URL, publicOnly: boolean, resolve: Resolve): Promise<Target> {
  const host = bareHost(url);
  let addresses: { address: string; family: number }[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await resolve(host);
    } catch (err) {
      throw new UrlRefused(`${host} does not resolve (${(err as { code?: string }).code ?? 'error'})`);
    }
    if (addresses.length === 0) throw new UrlRefused(`${host} does not resolve`);
  }
  if (publicOnly)
    for (const a of addresses) {
      const range = nonPublicRange(a.address);
      if (range) throw new UrlRefused(`${host} resolves to ${a.address}, a ${range} address`);
    }
  const first = addresses[0];
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
