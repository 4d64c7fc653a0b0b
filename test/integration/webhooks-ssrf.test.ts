import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../src/db/sql';
import type { Resolve } from '../../src/modules/webhook/webhook.url';
import { adminToken, createMerchant, createProduct, signUpCustomer } from '../factories/catalog';
import { checkout, createCart } from '../factories/shop';
import { startTestApp, type TestApp } from '../support/app';
import { until } from '../support/webhook-receiver';

/**
 * SSRF rules in production mode (NODE_ENV=production): endpoint URLs must be https and resolve
 * only to public addresses, checked at registration and again at each delivery after resolving
 * the name, so a name that turns private later (DNS rebinding) is refused before any connection.
 */

let t: TestApp;
let shop: { id: string; token: string };
let realResolve: Resolve;

beforeAll(async () => {
  t = await startTestApp({
    NODE_ENV: 'production',
    // Production requires a provider; nothing here pays.
    PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
    PAYMENT_PROVIDER_API_KEY: 'unused-provider-key-0123456789',
    // Production also requires /metrics to be protected, and CORS to list origins.
    METRICS_TOKEN: 'metrics-token-0123456789',
    WEBHOOK_MAX_ATTEMPTS: '2',
    WEBHOOK_RETRY_BASE_SECONDS: '0.05',
    WEBHOOK_POLL_MS: '100',
  });
  expect(t.app.config.production).toBe(true);
  realResolve = t.app.services.webhooks.resolve;
  shop = await createMerchant(t.gql, await adminToken(t.gql));
});
afterAll(() => t?.stop());
afterEach(() => {
  t.app.services.webhooks.resolve = realResolve;
});

const CREATE = `mutation($u: String!) { webhookEndpointCreate(input: { url: $u, topics: [ORDER_CREATED] }) {
  __typename ... on WebhookEndpointCreated { endpoint { id } } ... on UserError { errorCode message field } } }`;
const create = async (url: string) =>
  (await t.gql(CREATE, { u: url }, shop.token)).data.webhookEndpointCreate;

test.each([
  ['http://hooks.example.com/orders', 'must use https'],
  ['https://127.0.0.1/hook', 'loopback'],
  ['https://127.1.2.3:8443/hook', 'loopback'],
  ['https://10.20.30.40/hook', 'private'],
  ['https://192.168.0.10/hook', 'private'],
  ['https://169.254.169.254/latest/meta-data/', 'linkLocal'],
  ['https://[::1]/hook', 'loopback'],
  ['https://[::ffff:10.0.0.1]/hook', 'private'],
  ['https://0.0.0.0/hook', 'unspecified'],
  // a name the system resolver answers with 127.0.0.1 (/etc/hosts)
  ['https://localhost/hook', 'localhost resolves to'],
])('registration refuses %s (%s)', async (url, reason) => {
  const r = await create(url);
  expect(r).toMatchObject({ __typename: 'UserError', errorCode: 'WEBHOOK_URL_INVALID', field: 'url' });
  expect(r.message).toContain(reason);
});

test('a name that does not resolve is refused; a public one is accepted', async () => {
  t.app.services.webhooks.resolve = async (host) => {
    if (host === 'hooks.partner.test') return [{ address: '93.184.216.34', family: 4 }];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  expect(await create('https://nowhere.partner.test/hook')).toMatchObject({
    errorCode: 'WEBHOOK_URL_INVALID',
    message: 'nowhere.partner.test does not resolve (ENOTFOUND)',
  });
  expect((await create('https://hooks.partner.test/hook')).__typename).toBe('WebhookEndpointCreated');
  const n = await sqlAll<{ n: number }>(
    t.app.orm.em.fork() as unknown as EntityManager,
    'select count(*)::int as n from webhook_endpoint where merchant_id = $1',
    [shop.id],
  );
  expect(n[0].n).toBe(1); // nothing was stored for the refused ones
});

test('at delivery the name is resolved again: one that now points inside (DNS rebinding) is refused, no connection made', async () => {
  let answer = '93.184.216.34';
  t.app.services.webhooks.resolve = async (host) =>
    host === 'rebind.partner.test' ? [{ address: answer, family: 4 }] : realResolve(host);
  const ep = await create('https://rebind.partner.test/hook');
  expect(ep.__typename).toBe('WebhookEndpointCreated');
  answer = '127.0.0.1';

  const p = await createProduct(t.gql, shop.token, { variants: [{ onHand: 5 }] });
  const buyer = await signUpCustomer(t.gql);
  const cartId = await createCart(t.gql, [{ variantId: p.variantIds[0], quantity: 1 }]);
  await checkout(t.gql, buyer.token, cartId, `k-${randomBytes(4).toString('hex')}`);

  const d = await until(async () => {
    const [row] = await sqlAll<{
      status: string;
      attempts: number;
      last_error: string;
      last_status_code: null;
    }>(
      t.app.orm.em.fork() as unknown as EntityManager,
      'select * from webhook_delivery where endpoint_id = $1',
      [ep.endpoint.id],
    );
    return row?.status === 'DEAD' && row;
  }, 10_000);
  expect(d).toMatchObject({ attempts: 2, last_status_code: null });
  expect(d.last_error).toBe('refused: rebind.partner.test resolves to 127.0.0.1, a loopback address');
});
