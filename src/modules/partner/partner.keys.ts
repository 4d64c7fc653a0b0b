import { createHash, randomBytes } from 'node:crypto';

/**
 * API key secrets: `sk_` + 43 base64url characters (32 random bytes, 256 bits). Only the SHA-256 of a
 * secret is stored. A salted slow hash (scrypt, argon2) protects guessable passwords; a 256-bit
 * random secret cannot be guessed or found in a dictionary, so one fast hash is as strong, and it
 * lets every request find its key with one indexed lookup instead of spending 100 ms of CPU.
 */
export const SECRET_PREFIX = 'sk_';
const SECRET_SHAPE = /^sk_[A-Za-z0-9_-]{43}$/;
/** Characters of the secret kept in clear ("sk_" and 8 more) so people can tell their keys apart. */
const VISIBLE = 11;

export interface NewSecret {
  secret: string;
  prefix: string;
  hash: string;
}

export function newSecret(): NewSecret {
  const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
  return { secret, prefix: secret.slice(0, VISIBLE), hash: hashSecret(secret) };
}

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Whether a bearer token is meant as an API key (then it is never tried as a JWT). */
export const looksLikeApiKey = (token: string): boolean => token.startsWith(SECRET_PREFIX);

/** A well-formed secret; anything else is refused before the database is asked. */
export const isWellFormedSecret = (token: string): boolean => SECRET_SHAPE.test(token);
