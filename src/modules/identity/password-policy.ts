import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The passwords attackers try first: the common-password list zxcvbn-ts ships (about 49,000
 * passwords from breach corpora, lower case, most frequent first). Loaded on first use and kept as
 * a set; a password is refused when it is on it, whatever its letter case.
 */
let breached: Set<string> | undefined;
const breachedPasswords = (): Set<string> =>
  (breached ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase())));

/**
 * Why a new password is refused, or null (NIST SP 800-63B: a minimum length and a check against
 * known-compromised passwords; no composition rules, which push people to `Password1!`).
 */
export function passwordProblem(password: string, email: string, minLength: number): string | null {
  if ([...password].length < minLength) return `The password must have at least ${minLength} characters`;
  const lower = password.toLowerCase();
  if (breachedPasswords().has(lower))
    return 'This password is on the list of passwords leaked in breaches; choose another';
  const mail = email.trim().toLowerCase();
  if (lower === mail || lower === mail.split('@')[0]) return 'The password must not be the email address';
  return null;
}
