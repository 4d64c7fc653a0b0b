import fc from 'fast-check';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../support/app';

/**
 * The HTTP and WebSocket surface under random input: mutated and random documents, random variables,
 * huge and deep inputs, random bytes. Nothing may answer 500 or INTERNAL_SERVER_ERROR, the server
 * stays up, and memory comes back near where it started. Bounded to about 20 s.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.stop());

const SEEDS = [
  `query($n: Int!) { products(first: $n) { edges { node { id title variants { id price { amount } } } } } }`,
  `mutation($i: SignUpInput!) { signUp(input: $i) { __typename ... on ErrorResult { errorCode } } }`,
  `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { __typename } }`,
  `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename ... on Cart { id lines { id } } } }`,
  `query($id: ID!) { order(id: $id) { id status lines { id } shipments { id events { status } } } }`,
  `{ categories { id name parent { id } } viewer { id } }`,
  `query($f: ProductFilter) { products(filter: $f, first: 5) { totalCount facets { name values { value count } } } }`,
];

const failures: string[] = [];
function check(what: string, status: number, body: unknown) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (status >= 500 || text.includes('INTERNAL_SERVER_ERROR')) {
    failures.push(`${what}: ${status} ${text.slice(0, 300)}`);
  }
}

async function post(body: string | Buffer, contentType = 'application/json') {
  const res = await fetch(t.url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  check(`POST ${String(body).slice(0, 120)}`, res.status, text);
  return res.status;
}

/** A seed document with random edits: characters inserted, slices dropped or repeated. */
const mutatedDocument = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.nat({ max: 20 }),
        fc.oneof(
          fc.string({ maxLength: 8 }),
          fc.constantFrom('{', '}', '(', ')', '$', '...', '@skip(if: true)', '"\\u0000"', '#'),
        ),
      ),
      { maxLength: 6 },
    ),
  )
  .map(([seed, edits]) =>
    edits.reduce((doc, [at, drop, insert]) => {
      const i = at % (doc.length + 1);
      return doc.slice(0, i) + insert + doc.slice(i + (drop % 3 === 0 ? drop : 0));
    }, seed),
  );

const variables = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({
    n: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
    i: fc.record({ email: fc.string(), password: fc.string(), name: fc.string({ unit: 'binary' }) }),
    l: fc.array(fc.record({ variantId: fc.string(), quantity: fc.integer() }), { maxLength: 300 }),
    id: fc.string(),
    f: fc.jsonValue({ maxDepth: 3 }),
  }),
);

test('random and mutated documents with random variables over HTTP: no 500', async () => {
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(mutatedDocument, variables, async (query, vars) => {
      await post(JSON.stringify({ query, variables: vars }));
      return true;
    }),
    { numRuns: 250, interruptAfterTimeLimit: 7_000 },
  );
  expect(failures).toEqual([]);
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('random bytes, huge and deep inputs over HTTP: clear 4xx answers, never a 500', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (bytes) => {
      await post(Buffer.from(bytes));
      return true;
    }),
    { numRuns: 60, interruptAfterTimeLimit: 3_000 },
  );
  // Over the 1 MiB body limit: 413, or the connection is cut while the client is still sending.
  const huge = await post('{"query": "' + 'x'.repeat(2 * 1024 * 1024) + '"}').catch((e: Error) =>
    /ECONNRESET|EPIPE|other side closed/.test(String((e.cause as Error)?.message ?? e.message)) ? 413 : 0,
  );
  expect(huge).toBe(413);
  expect(await post(JSON.stringify({ query: '{'.repeat(20_000) + '}'.repeat(20_000) }))).toBe(400);
  expect(await post(JSON.stringify({ query: `{ ${'categories { id } '.repeat(5_000)} }` }))).toBe(400);
  let nested: unknown = 1;
  for (let i = 0; i < 3_000; i++) nested = [nested];
  expect(
    await post(
      `{"query": "query($f: ProductFilter) { products(filter: $f) { totalCount } }", "variables": {"f": ${JSON.stringify({ attributes: nested })}}}`,
    ),
  ).toBe(400);
  const many = JSON.stringify({
    query: SEEDS[3],
    variables: { l: Array.from({ length: 20_000 }, () => ({ variantId: '1', quantity: 1 })) },
  });
  expect(await post(many)).toBe(400); // 20,000 lines: over the list cap, refused before execution
  expect(failures).toEqual([]);
});

test('random frames and mutated operations over graphql-ws: the server stays up and answers', async () => {
  const wsUrl = t.url.replace(/^http/, 'ws');
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 500 }),
          mutatedDocument.map((q) => JSON.stringify({ type: 'subscribe', id: '1', payload: { query: q } })),
        ),
        { maxLength: 5 },
      ),
      async (frames) => {
        const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
        await new Promise<void>((resolve) => {
          ws.on('open', () => {
            ws.send(JSON.stringify({ type: 'connection_init' }));
            for (const f of frames) ws.send(typeof f === 'string' ? f : Buffer.from(f));
            setTimeout(() => ws.close(), 30);
          });
          ws.on('message', (m) => check(`ws ${String(frames[0]).slice(0, 80)}`, 200, String(m)));
          ws.on('close', () => resolve());
          ws.on('error', () => resolve());
        });
        return true;
      },
    ),
    { numRuns: 60, interruptAfterTimeLimit: 5_000 },
  );
  expect(failures).toEqual([]);
  const health = await fetch(t.url.replace(/\/graphql$/, '/healthz'));
  expect(health.status).toBe(200);
});

test('memory is back near its baseline afterwards', async () => {
  // The earlier tests ran the load; what they left must be collectable.
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 100));
    }
    return process.memoryUsage().heapUsed;
  };
  const before = await settle();
  for (let i = 0; i < 200; i++)
    await post(JSON.stringify({ query: SEEDS[i % SEEDS.length], variables: { n: 5 } }));
  const after = await settle();
  expect(after - before).toBeLessThan(64 * 1024 * 1024);
  expect(failures).toEqual([]);
});
