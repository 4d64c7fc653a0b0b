import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { parse, getOperationAST } from 'graphql';
import { chromium, type Browser, type Page } from 'playwright-core';
import { docId } from '../factories/partners';
import { ADMIN, startTestApp, type TestApp } from '../support/app';

/**
 * The example storefront (examples/storefront) in headless Chromium against the real server on
 * another origin (issue 11, item 6). The storefront is built with Vite from the repository's
 * sources and served as static files on http://localhost:<port>; the API listens on
 * http://127.0.0.1:<other port>, enforcing the storefront's persisted-documents manifest
 * (TRUSTED_DOCUMENTS=enforce), as a deployment that safelists its apps would.
 *
 * search → facet → product page by slug → add to cart (anonymous) → sign in (the anonymous cart is
 * merged into the one the customer already had) → checkout → pay on the sandbox provider's page →
 * back on the storefront's order page → the order becomes PAID while the page is open, pushed over
 * graphql-ws. The provider's callback is held by a small proxy until the page is showing the
 * unpaid order, so PAID can only arrive live.
 *
 * Along the way: every request the browser sends names its document by hash (never its text);
 * anonymous catalog GETs are `public` with an ETag, signed-in ones `private, no-store`.
 */

const ROOT = join(__dirname, '..', '..');
const STOREFRONT = join(ROOT, 'examples', 'storefront');
const MANIFEST = join(STOREFRONT, 'src', 'gql', 'persisted-documents.json');
/** Debian's chromium package: the binary itself (the /usr/bin/chromium wrapper also works). */
const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p)) ??
  '/usr/bin/chromium';

// Data the test sets up through the API (documents of a merchant console, safelisted next to the storefront's).
const SEED = {
  merchant: `mutation SeedMerchant($i: MerchantCreateInput!) { merchantCreate(input: $i) { id } }`,
  category: `mutation SeedCategory($i: CategoryCreateInput!) { categoryCreate(input: $i) { id } }`,
  product: `mutation SeedProduct($i: ProductCreateInput!) { productCreate(input: $i) { id slug variants { id } } }`,
  customer: `mutation SeedCustomer($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token } } }`,
  order: `query SeedOrder($id: ID!) { order(id: $id) { status } }`,
};

const storefrontDocs: Record<string, string> = JSON.parse(readFileSync(MANIFEST, 'utf8'));
/** The storefront's own document of this operation name (the test reuses SignIn and CartCreate). */
const storefrontDoc = (name: string) =>
  Object.values(storefrontDocs).find((t) => getOperationAST(parse(t))?.name?.value === name)!;

let api: TestApp;
let shop: Server;
let proxy: Server;
let browser: Browser;
let dir: string;
let shopOrigin: string;
let releaseCallbacks: () => void;
const callbacksReleased = new Promise<void>((r) => (releaseCallbacks = r));
let heldCallbacks = 0;

/** Runs a safelisted document by id, as the storefront and the console do. */
async function run(text: string, variables: Record<string, unknown>, token?: string): Promise<any> {
  const res = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ documentId: docId(text), variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors || !body.data) throw new Error(`${text.slice(0, 40)}: ${JSON.stringify(body)}`);
  return body.data;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The built storefront as a static site: files, /config.js pointing at the API, index.html otherwise. */
function serveStorefront(outDir: string, apiUrl: string): RequestListener {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/config.js') {
      res.writeHead(200, { 'content-type': TYPES['.js'] });
      return res.end(`window.STOREFRONT_CONFIG = ${JSON.stringify({ apiUrl })};`);
    }
    const file = normalize(join(outDir, path));
    const found =
      file.startsWith(outDir) && existsSync(file) && extname(file) !== '' ? file : join(outDir, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(found)] ?? 'application/octet-stream' });
    res.end(readFileSync(found));
  };
}

/** Forwards everything to the API; the provider's payment callbacks wait until released. */
function callbackProxy(apiPort: () => number): Server {
  return createServer((req, res) => {
    const forward = () => {
      const out = httpRequest(
        { host: '127.0.0.1', port: apiPort(), path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (req.url?.startsWith('/webhooks/payments')) {
      heldCallbacks++;
      req.pause();
      void callbacksReleased.then(forward);
    } else forward();
  });
}

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
const close = (server?: Server) =>
  new Promise<void>((resolve) =>
    server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve(),
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'storefront-e2e-'));
  const outDir = join(dir, 'dist');
  // The storefront as a user builds it (Vite's CLI, from the repository's sources and committed codegen output).
  const building = promisify(execFile)(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      STOREFRONT,
      '--outDir',
      outDir,
      '--logLevel',
      'warn',
    ],
    { cwd: ROOT, env: { ...process.env, VITE_CONFIG_NATIVE_IGNORE_WARNING: 'true' } },
  );

  // The storefront's origin must be known before the API starts (CORS and payment return URLs).
  let serve: RequestListener = (_req, res) => void res.writeHead(503).end();
  shop = createServer((req, res) => serve(req, res));
  const shopPort = await listen(shop);
  shopOrigin = `http://localhost:${shopPort}`;
  let apiPort = 0;
  proxy = callbackProxy(() => apiPort);
  const proxyPort = await listen(proxy);

  const manifest = join(dir, 'manifest.json');
  const seed = Object.fromEntries(Object.values(SEED).map((t) => [docId(t), t]));
  writeFileSync(manifest, JSON.stringify({ ...storefrontDocs, ...seed }));
  api = await startTestApp({
    TRUSTED_DOCUMENTS: 'enforce',
    TRUSTED_DOCUMENTS_MANIFEST: manifest,
    CORS_ORIGINS: shopOrigin,
    STOREFRONT_ORIGINS: shopOrigin,
    // The provider calls back through the proxy, which holds the callback (see above).
    PUBLIC_URL: `http://127.0.0.1:${proxyPort}`,
  });
  apiPort = api.app.http.port;

  await building;
  serve = serveStorefront(outDir, api.url);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}, 90_000);

afterAll(async () => {
  releaseCallbacks?.();
  await browser?.close();
  await close(shop);
  await close(proxy);
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('search, product page, cart, sign-in with cart merge, checkout, sandbox payment, live PAID', async () => {
  // The shop: a merchant with three products in two categories, and a customer whose cart already holds one.
  const admin = (await run(storefrontDoc('SignIn'), { email: ADMIN.email, password: ADMIN.password })).signIn
    .token;
  const owner = { email: `owner-${Date.now()}@shop.test`, password: 'owner-password' };
  await run(
    SEED.merchant,
    { i: { name: 'Tea House', ownerEmail: owner.email, ownerPassword: owner.password, ownerName: 'Owner' } },
    admin,
  );
  const merchant = (await run(storefrontDoc('SignIn'), { ...owner })).signIn.token;
  const teapots = (await run(SEED.category, { i: { name: 'Teapots', slug: 'teapots' } }, admin))
    .categoryCreate.id;
  const mugs = (await run(SEED.category, { i: { name: 'Mugs', slug: 'mugs' } }, admin)).categoryCreate.id;
  const product = async (title: string, categoryId: string, price: string) =>
    (
      await run(
        SEED.product,
        {
          i: {
            title,
            description: `${title}, for tea.`,
            categoryId,
            variants: [
              {
                sku: title.toUpperCase().replace(/\W+/g, '-'),
                title: 'Default',
                price,
                onHand: 20,
                attributes: [],
              },
            ],
          },
        },
        merchant,
      )
    ).productCreate;
  const castIron = await product('Cast Iron Teapot', teapots, '45.00');
  const glass = await product('Glass Teapot', teapots, '30.00');
  await product('Teapot Mug', mugs, '12.00');
  const customer = { email: `shopper-${Date.now()}@shop.test`, password: 'shopper-password' };
  const customerToken = (await run(SEED.customer, { i: { ...customer, name: 'Sam Shopper' } })).signUp.token;
  await run(
    storefrontDoc('CartCreate'),
    { lines: [{ variantId: castIron.variants[0].id, quantity: 1 }] },
    customerToken,
  );

  const page: Page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  // Everything the browser sends to the API, and the answers' cache headers.
  const sent: { method: string; url: string; body: string | null }[] = [];
  const catalogAnswers: { signedIn: boolean; cacheControl: string | undefined; etag?: string }[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(api.url) && r.method() !== 'OPTIONS')
      sent.push({ method: r.method(), url: r.url(), body: r.postData() });
  });
  page.on('response', async (r) => {
    const req = r.request();
    if (req.method() === 'GET' && r.url().startsWith(api.url) && r.url().includes('SearchProducts')) {
      const headers = await r.allHeaders();
      catalogAnswers.push({
        signedIn: Boolean(await req.headerValue('authorization')),
        cacheControl: headers['cache-control'],
        etag: headers['etag'],
      });
    }
  });

  // Search, then narrow with the category facet (its values carry the categories' names).
  await page.goto(`${shopOrigin}/`);
  await page.getByLabel('Search').fill('teapot');
  await page.getByRole('button', { name: 'Search' }).click();
  await seeText(page.getByTestId('result-count'), '3 products');
  await page.getByRole('button', { name: 'Teapots (2)' }).click();
  await seeText(page.getByTestId('result-count'), '2 products');

  // The product page by slug; add to cart as an anonymous shopper.
  await page.getByRole('link', { name: 'Glass Teapot' }).click();
  await seeText(page.getByTestId('product-title'), 'Glass Teapot');
  expect(new URL(page.url()).pathname).toBe(`/products/${glass.slug}`);
  await page.getByTestId('add-to-cart').click();
  await waitFor(
    async () => (await page.getByTestId('cart-lines').locator('li').count()) === 1,
    'one cart line',
  );
  await seeText(page.getByTestId('cart-count'), '1');

  // Sign in: the anonymous cart is merged into the customer's (which held the cast-iron teapot).
  await page.getByTestId('sign-in-to-checkout').click();
  await page.getByLabel('Email').fill(customer.email);
  await page.getByLabel('Password').fill(customer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await seeText(page.getByTestId('signed-in'), 'Sam Shopper', false);
  await seeText(page.getByTestId('cart-count'), '2');

  // Checkout, then the provider's hosted page on its own origin.
  await page.getByLabel('Name').fill('Sam Shopper');
  await page.getByLabel('Street').fill('1 Tea Street');
  await page.getByLabel('City').fill('Leafville');
  await page.getByLabel('Postal code').fill('12345');
  await page.getByTestId('pay').click();
  await Promise.race([
    page.waitForURL((u) => !u.href.startsWith(shopOrigin)),
    page
      .getByRole('alert')
      .waitFor()
      .then(async () => {
        throw new Error(`checkout: ${await page.getByRole('alert').textContent()}`);
      }),
  ]);
  await seeText(page.locator('.amount'), '75.00', false).catch(async (e) => {
    throw new Error(`${e.message} on ${page.url()}: ${(await page.textContent('body'))?.slice(0, 300)}`);
  });
  await page.locator('button[value=pay]').click();

  // Back on the storefront's order page; the provider's callback is still held: not paid yet.
  await page.waitForURL((u) => u.href.startsWith(`${shopOrigin}/orders/`));
  const returned = new URL(page.url());
  expect(returned.searchParams.get('status')).toBe('SUCCEEDED');
  const orderId = returned.pathname.split('/').pop()!;
  await seeText(page.getByTestId('order-status'), 'PENDING_PAYMENT');
  expect(heldCallbacks).toBeGreaterThan(0);
  // The page is subscribed (graphql-ws, with the token) before the payment lands.
  await waitFor(() => api.app.services.events.subscriptions > 0, 'a live subscription');
  await page.evaluate(() => ((globalThis as any).__samePage = true));

  releaseCallbacks();
  await seeText(page.getByTestId('order-status'), 'PAID');
  await page.getByTestId('live-events').waitFor();
  expect(await page.evaluate(() => (globalThis as any).__samePage)).toBe(true); // no reload: it came live
  expect((await run(SEED.order, { id: orderId }, customerToken)).order.status).toBe('PAID');

  // Only hashes crossed the wire: no request carried a document's text.
  expect(sent.length).toBeGreaterThan(5);
  for (const r of sent) {
    expect(new URL(r.url).searchParams.get('query')).toBeNull();
    if (r.body) expect(JSON.parse(r.body).query).toBeUndefined();
    expect(decodeURIComponent(r.url) + (r.body ?? '')).toContain('sha256:');
  }
  // Anonymous catalog GETs were cacheable by a CDN.
  const anonymous = catalogAnswers.filter((a) => !a.signedIn);
  expect(anonymous.length).toBeGreaterThan(0);
  for (const a of anonymous) {
    expect(a.cacheControl).toMatch(/^public, max-age=\d+$/);
    expect(a.etag).toMatch(/^W\//);
  }
  await page.close();
});

type Locator = ReturnType<Page['locator']>;

/** Waits (up to 15 s) until the locator's text is, or contains, `text` (Playwright's auto-waiting, for jest). */
async function seeText(locator: Locator, text: string, exact = true) {
  let last: string | null = null;
  await waitFor(async () => {
    last = (await locator.textContent({ timeout: 1_000 }).catch(() => null))?.trim() ?? null;
    return last !== null && (exact ? last === text : last.includes(text));
  }, `${locator} to show "${text}" (last: "${last}")`);
}

async function waitFor(check: () => boolean | Promise<boolean>, what = 'condition', ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not met in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
