import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { hashPool } from '../../server/protection/hash-pool';

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCb(password, salt, keylen, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );

/**
 * argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane). Hashes made with other
 * parameters, or with the scrypt of earlier versions, still verify and are replaced at the next
 * successful sign-in (`needsRehash`).
 */
// 2 is Algorithm.Argon2id (a const enum, which isolated modules cannot read).
export const ARGON2 = { algorithm: 2 as Algorithm, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
const CURRENT_PREFIX = `$argon2id$v=19$m=${ARGON2.memoryCost},t=${ARGON2.timeCost},p=${ARGON2.parallelism}$`;

/** Every hash runs in the process's small hashing pool (a sign-in flood cannot take every core). */
export function hashPassword(password: string): Promise<string> {
  return hashPool.run(() => argon2Hash(password, ARGON2));
}

export function verifyPassword(password: string, stored: string): Promise<boolean> {
  return hashPool.run(async () => {
    if (stored.startsWith('$argon2')) return argon2Verify(stored, password).catch(() => false);
    // `scrypt$N$r$p$salt$hash`: earlier versions (N = 2^14).
    const [kind, n, r, p, salt, hash] = stored.split('$');
    if (kind !== 'scrypt') return false;
    const expected = Buffer.from(hash, 'base64');
    const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
    });
    return timingSafeEqual(key, expected);
  });
}

/** Whether a stored hash is weaker than today's (then it is replaced at sign-in). */
export const needsRehash = (stored: string): boolean => !stored.startsWith(CURRENT_PREFIX);

/**
 * A hash to verify against when the email is unknown, so an unknown email and a wrong password
 * take about the same time and cannot be told apart.
 */
let dummy: Promise<string> | undefined;
export const dummyHash = (): Promise<string> => (dummy ??= hashPassword(randomBytes(16).toString('hex')));

/** A scrypt hash as earlier versions stored it (tests of the in-place upgrade). */
export async function legacyScryptHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, { N: 16384, r: 8, p: 1 });
  return ['scrypt', 16384, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
}
