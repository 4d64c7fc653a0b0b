import {
  dummyHash,
  hashPassword,
  legacyScryptHash,
  needsRehash,
  verifyPassword,
} from '../../src/modules/identity/password';
import { HashPool } from '../../src/server/protection/hash-pool';

describe('argon2id password hashing', () => {
  test('a hash verifies its own password and no other', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterz', hash)).toBe(false);
    expect(await verifyPassword('Correct horse battery', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  test('the stored form is argon2id at OWASP parameters (19 MiB, t=2, p=1) in PHC form', async () => {
    const hash = await hashPassword('password-1');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(hash).not.toContain('password-1');
    expect(needsRehash(hash)).toBe(false);
  });

  test('hashes of earlier versions (scrypt N=2^14) still verify and are marked for an upgrade', async () => {
    const old = await legacyScryptHash('password-1');
    expect(old).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('password-1', old)).toBe(true);
    expect(await verifyPassword('password-2', old)).toBe(false);
    expect(needsRehash(old)).toBe(true);
    expect(needsRehash('$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaA')).toBe(true);
  });

  test('two hashes of one password differ (random salt) and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]); // the salts
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });

  test('a hash of another kind never verifies', async () => {
    expect(await verifyPassword('x', 'bcrypt$2b$10$abc')).toBe(false);
  });

  test('unicode passwords work', async () => {
    const hash = await hashPassword('pässwörd-日本');
    expect(await verifyPassword('pässwörd-日本', hash)).toBe(true);
    expect(await verifyPassword('passwörd-日本', hash)).toBe(false);
  });

  test('the dummy hash is one stable argon2id hash', async () => {
    const a = await dummyHash();
    expect(needsRehash(a)).toBe(false);
    expect(await dummyHash()).toBe(a);
    expect(await verifyPassword('password-1', a)).toBe(false);
  });
});

describe('the hashing pool', () => {
  test('runs at most `concurrency` at once, in order, and refuses past its queue', async () => {
    const pool = new HashPool(2, 3);
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const job = () =>
      pool.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
      });
    const accepted = Array.from({ length: 5 }, job); // 2 running, 3 waiting
    const refused = job();
    await expect(refused).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(pool.pending).toBe(3);
    while (gates.length || pool.pending) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(accepted);
    expect(peak).toBe(2);
  });
});
