import { hashPassword, verifyPassword, dummyHash } from '../../src/modules/identity/password';

describe('scrypt password hashing', () => {
  test('a hash verifies its own password and no other', async () => {
    const hash = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse batterz', hash)).toBe(false);
    expect(await verifyPassword('Correct horse battery', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  test('the stored form names scrypt and its parameters, with a 16-byte salt and a 32-byte key', async () => {
    const hash = await hashPassword('password-1');
    const [kind, n, r, p, salt, key] = hash.split('$');
    expect([kind, n, r, p]).toEqual(['scrypt', '16384', '8', '1']);
    expect(Buffer.from(salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(hash).not.toContain('password-1');
  });

  test('two hashes of one password differ (random salt) and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
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

  test('the dummy hash is one stable scrypt hash', async () => {
    const a = await dummyHash();
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await dummyHash()).toBe(a);
    expect(await verifyPassword('password-1', a)).toBe(false);
  });
});
