#!/usr/bin/env node
// A partner integration in one file (Node 20, no dependencies): the documents it runs, their
// registration, reading orders with an API key, and a receiver that verifies Standard Webhooks.
// See README.md beside this file.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

/** Every document this integration runs. The server runs nothing else for its key. */
export const DOCUMENTS = {
  orders: `query PartnerOrders($first: Int!, $after: String) {
  orders(first: $first, after: $after) {
    edges { node { id status createdAt total { amount currency } lines { sku quantity } } }
    pageInfo { hasNextPage endCursor }
  }
}`,
  order: `query PartnerOrder($id: ID!) { order(id: $id) { id status } }`,
  ship: `mutation PartnerShip($orderId: ID!, $carrier: String!, $trackingNumber: String!) {
  orderShip(orderId: $orderId, carrier: $carrier, trackingNumber: $trackingNumber) {
    __typename
    ... on Shipment { id status trackingNumber }
    ... on ErrorResult { errorCode message }
  }
}`,
};

/** "sha256:<hex>": the id graphql-codegen's persisted documents write, and the server checks. */
export const documentId = (text) => 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex');

async function call(apiUrl, body, bearer) {
  const res = await fetch(apiUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (json.errors?.length) {
    const e = json.errors[0];
    throw new Error(`${res.status} ${e.extensions?.code ?? ''}: ${e.message}`);
  }
  return json.data;
}

/**
 * Registers the documents for the partner. Registration is the merchant's (or an admin's) act:
 * the shop decides what its partner may run, so this takes the merchant console's token.
 */
export async function registerDocuments(apiUrl, merchantToken, partnerId) {
  const documents = Object.values(DOCUMENTS).map((body) => ({ id: documentId(body), body }));
  const data = await call(
    apiUrl,
    {
      query: `mutation($p: ID!, $d: [PersistedDocumentInput!]!) { persistedDocumentsRegister(partnerId: $p, documents: $d) {
        __typename ... on PersistedDocumentsRegistered { registered unchanged } ... on UserError { errorCode message field } } }`,
      variables: { p: partnerId, d: documents },
    },
    merchantToken,
  );
  const r = data.persistedDocumentsRegister;
  if (r.__typename !== 'PersistedDocumentsRegistered') throw new Error(`${r.errorCode}: ${r.message}`);
  return { registered: r.registered, unchanged: r.unchanged };
}

/** Runs a registered document by id with the partner's key (`sk_...`). */
export const run = (apiUrl, key, name, variables = {}) =>
  call(apiUrl, { documentId: documentId(DOCUMENTS[name]), variables }, key);

/** Every order of the merchant, page by page (needs the ORDERS_READ scope). */
export async function readOrders(apiUrl, key, pageSize = 50) {
  const orders = [];
  let after = null;
  for (;;) {
    const { orders: page } = await run(apiUrl, key, 'orders', { first: pageSize, after });
    orders.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return orders;
    after = page.pageInfo.endCursor;
  }
}

/**
 * Verifies a Standard Webhooks delivery (https://www.standardwebhooks.com): the signature is
 * base64(HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.${raw body}`)) with the key being the
 * base64 after "whsec_"; `webhook-signature` may hold several space-separated "v1,<sig>" (secret
 * rotation). A timestamp more than `toleranceSeconds` from now is refused (replays).
 * Returns the parsed event, or throws.
 */
export function verifyWebhook(secret, headers, rawBody, { toleranceSeconds = 300, now = Date.now() } = {}) {
  const h = (name) => headers[name] ?? headers[name.toLowerCase()];
  const id = h('webhook-id');
  const timestamp = h('webhook-timestamp');
  const signatures = h('webhook-signature');
  if (!id || !timestamp || !signatures)
    throw new Error('missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds)
    throw new Error('timestamp outside the tolerance');
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${rawBody}`).digest();
  const ok = String(signatures)
    .split(' ')
    .some((s) => {
      const [version, sig] = s.split(',');
      if (version !== 'v1' || !sig) return false;
      const given = Buffer.from(sig, 'base64');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  if (!ok) throw new Error('no valid signature');
  return { id, event: JSON.parse(rawBody) };
}

/**
 * A webhook receiver: verifies each delivery, skips webhook-ids it has seen (deliveries are at
 * least once), answers 2xx quickly and hands the event on.
 */
export function startReceiver(port, secret, onEvent) {
  const seen = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        const { id, event } = verifyWebhook(secret, req.headers, Buffer.concat(chunks).toString('utf8'));
        res.writeHead(204).end();
        if (!seen.has(id)) {
          seen.add(id);
          onEvent(event, id);
        }
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(e.message);
      }
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const USAGE = `usage:
  MERCHANT_TOKEN=<merchant JWT> PARTNER_ID=<id> node partner.mjs register
  PARTNER_KEY=sk_...                         node partner.mjs orders
  WEBHOOK_SECRET=whsec_...                   node partner.mjs listen [port]
API_URL defaults to http://127.0.0.1:4000/graphql.`;

async function main([command, arg]) {
  const env = process.env;
  const apiUrl = env.API_URL ?? 'http://127.0.0.1:4000/graphql';
  const need = (name) => env[name] ?? (console.error(`${name} is not set\n${USAGE}`), process.exit(2));
  if (command === 'register') {
    const r = await registerDocuments(apiUrl, need('MERCHANT_TOKEN'), need('PARTNER_ID'));
    console.log(JSON.stringify(r));
  } else if (command === 'orders') {
    const orders = await readOrders(apiUrl, need('PARTNER_KEY'));
    console.log(JSON.stringify({ count: orders.length, orders }, null, 2));
  } else if (command === 'listen') {
    const port = Number(arg ?? 8787);
    await startReceiver(port, need('WEBHOOK_SECRET'), (event, id) =>
      console.log(JSON.stringify({ webhookId: id, type: event.type, data: event.data })),
    );
    console.error(`listening on http://127.0.0.1:${port}/ for webhooks`);
  } else {
    console.error(USAGE);
    process.exit(2);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
