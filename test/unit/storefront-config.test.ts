import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { checkReturnUrl } from '../../src/modules/payment/return-url';
import { seoDescriptionOf } from '../../src/modules/catalog/catalog.resolver';

const dir = mkdtempSync(join(tmpdir(), 'storefront-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = (env: Record<string, string>) => loadConfig({ DATA_DIR: dir, ...env });
const PROD = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://u:p@db/x',
  PAYMENT_PROVIDER_URL: 'https://psp.example.com',
  JWT_SECRET: 'jwt-secret-0123456789abcdef',
  PAYMENT_WEBHOOK_SECRET: 'payment-secret-0123456789',
  LOGISTICS_WEBHOOK_SECRET: 'logistics-secret-0123456789',
  PAYMENT_PROVIDER_API_KEY: 'provider-api-key-0123456789',
  METRICS_TOKEN: 'metrics-token-0123456789',
};

describe('STOREFRONT_ORIGINS', () => {
  test('origins and app schemes, normalised; CORS_ORIGINS when unset; empty by default', () => {
    expect(
      config({ STOREFRONT_ORIGINS: 'https://Shop.example.com/, http://localhost:5173, MyApp://' })
        .storefrontOrigins,
    ).toEqual(['https://shop.example.com', 'http://localhost:5173', 'myapp://']);
    expect(config({ CORS_ORIGINS: 'https://a.example.com' }).storefrontOrigins).toEqual([
      'https://a.example.com',
    ]);
    expect(
      config({ CORS_ORIGINS: 'https://a.example.com', STOREFRONT_ORIGINS: 'https://b.example.com' })
        .storefrontOrigins,
    ).toEqual(['https://b.example.com']);
    expect(config({}).storefrontOrigins).toEqual([]);
  });

  test('paths, non-web schemes with a path and "*" in production are refused, naming the variable', () => {
    for (const bad of [
      'https://shop.example.com/checkout',
      'ftp://x.example.com',
      'not a url',
      'javascript:alert(1)',
    ]) {
      expect(() => config({ STOREFRONT_ORIGINS: bad })).toThrow(/STOREFRONT_ORIGINS/);
    }
    expect(config({ STOREFRONT_ORIGINS: '*' }).storefrontOrigins).toEqual(['*']);
    expect(() => config({ ...PROD, STOREFRONT_ORIGINS: '*' })).toThrow(/STOREFRONT_ORIGINS.*production/);
    // Without STOREFRONT_ORIGINS, the plain origins of CORS_ORIGINS (the HTTP edge's) are used.
    expect(config({ ...PROD, CORS_ORIGINS: 'https://a.example.com' }).storefrontOrigins).toEqual([
      'https://a.example.com',
    ]);
  });

  test('catalog cache settings: defaults, bounds', () => {
    expect(config({}).catalogCache).toEqual({ ttlMs: 30_000, staleMs: 300_000, maxEntries: 20_000 });
    expect(config({ CATALOG_CACHE_TTL_MS: '0' }).catalogCache.ttlMs).toBe(0);
    expect(() => config({ CATALOG_CACHE_MAX_ENTRIES: '10' })).toThrow(/CATALOG_CACHE_MAX_ENTRIES/);
    expect(() => config({ CATALOG_CACHE_TTL_MS: 'soon' })).toThrow(/CATALOG_CACHE_TTL_MS/);
  });
});

describe('checkReturnUrl', () => {
  const allowed = ['https://shop.example.com', 'http://localhost:5173', 'myapp://'];
  test('accepts pages on listed origins and links with listed schemes', () => {
    expect(checkReturnUrl('https://shop.example.com/a/b?c=1#d', allowed)).toBe(
      'https://shop.example.com/a/b?c=1#d',
    );
    expect(checkReturnUrl('http://localhost:5173/', allowed)).toBe('http://localhost:5173/');
    expect(checkReturnUrl('myapp://orders/1', allowed)).toBe('myapp://orders/1');
    expect(checkReturnUrl('https://anything.example.org/x', ['*'])).toBe('https://anything.example.org/x');
  });
  test.each([
    'https://shop.example.com.evil.com/',
    'https://evil.com/?https://shop.example.com',
    'http://shop.example.com/',
    'https://shop.example.com:444/',
    'https://user@shop.example.com/',
    'javascript:alert(1)',
    'data:text/html,x',
    'otherapp://x',
    'shop.example.com/x',
    '',
  ])('refuses %s as BAD_USER_INPUT', (url) => {
    expect(() => checkReturnUrl(url, allowed)).toThrow(
      expect.objectContaining({
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'returnUrl' }),
      }),
    );
  });
  test('"*" never admits app links or dangerous schemes', () => {
    expect(() => checkReturnUrl('myapp://x', ['*'])).toThrow();
    expect(() => checkReturnUrl('javascript:alert(1)', ['*'])).toThrow();
  });
});

describe('seoDescriptionOf', () => {
  test('collapses whitespace, keeps short texts, cuts long ones at a word within 160 characters', () => {
    expect(seoDescriptionOf('A  soft\n\ttee.')).toBe('A soft tee.');
    expect(seoDescriptionOf('   ')).toBeNull();
    const long = 'word '.repeat(60);
    const d = seoDescriptionOf(long)!;
    expect(d.length).toBeLessThanOrEqual(160);
    expect(d.endsWith('word…')).toBe(true);
  });
});
