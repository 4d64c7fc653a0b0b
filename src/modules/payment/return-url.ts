import { badInput } from '../../shared/errors';

/** Schemes that run code or read local data where a browser lands: never a return address. */
const NEVER = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:']);

/**
 * Checks the address a card provider sends the shopper back to after paying (paymentStart's
 * returnUrl). A web page must be on one of the storefront origins exactly (scheme, host and port);
 * an app link ("myapp://orders/1") must use a listed scheme ("myapp://"). "*" admits any http(s)
 * origin (development only; the configuration refuses it in production). Anything else is
 * BAD_USER_INPUT: an open redirect through the provider's page would be a phishing aid.
 */
export function checkReturnUrl(returnUrl: string, allowed: string[]): string {
  const refuse = (why: string) => badInput(`returnUrl ${why}`, 'returnUrl');
  if (returnUrl.length > 2000) throw refuse('is longer than 2000 characters');
  let url: URL;
  try {
    url = new URL(returnUrl);
  } catch {
    throw refuse('is not an absolute URL');
  }
  if (NEVER.has(url.protocol)) throw refuse(`may not use ${url.protocol}`);
  if (url.username || url.password) throw refuse('may not carry credentials');
  const web = url.protocol === 'http:' || url.protocol === 'https:';
  const ok = web
    ? allowed.includes('*') || allowed.includes(url.origin)
    : allowed.includes(`${url.protocol}//`);
  if (!ok)
    throw refuse(
      `is not on an allowed storefront origin (STOREFRONT_ORIGINS): ${web ? url.origin : url.protocol}`,
    );
  return url.toString();
}
