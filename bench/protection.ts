import 'reflect-metadata';
import { ApolloServer } from '@apollo/server';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'graphql';
import { loadConfig } from '../src/config';
import { freePort } from '../src/db/embedded';
import { buildAppSchema } from '../src/server/schema';
import { Protection } from '../src/server/protection';
import { freshDatabase } from './checkout';
import { closedLoop, percentile, post, ROOT, startChild, waitFor } from './lib';

/**
 * BENCH_ONLY=protection:
 * 1. The overhead of the protection plugin (cost analysis with variables, a rate-limit count, the
 *    deadline check per field) per request: the same operations through Apollo with and without it,
 *    interleaved in one run. Plus the cost analysis alone on the contract's largest page.
 * 2. A legitimate user's sign-in latency while another client floods sign-in with wrong passwords
 *    (from another address), against the same user's sign-in with no flood.
 */
const DURATION = Number(process.env.BENCH_DURATION ?? 15);

const PAGE = `query($n: Int!) { products(first: $n) { edges { cursor node { id title description
  merchant { id name } category { id name } priceRange { min { amount currency } max { amount currency } }
  variants { id sku title availability price { amount currency } attributes { name value } } } }
  pageInfo { hasNextPage endCursor } } }`;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
};

async function pluginOverhead(): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'development',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-protection-')),
    DATABASE_URL: 'postgres://unused/db',
    RATE_LIMIT_IP_PER_MINUTE: '10000000',
    REDIS_URL: process.env.REDIS_URL,
  });
  const schema = buildAppSchema();
  const protection = new Protection(config);
  const bare = new ApolloServer({ schema });
  const guarded = new ApolloServer({ schema, plugins: [protection.plugin(schema)] });
  await Promise.all([bare.start(), guarded.start()]);
  // `viewer` resolves without a database for an anonymous caller: what is left is the pipeline.
  const op = { query: `query Viewer { viewer { id name } __typename }` };
  const ctx = { contextValue: { principal: null, clientIp: '127.0.0.1' } as any };
  const times = { bare: [] as number[], guarded: [] as number[] };
  for (let round = 0; round < 40; round++) {
    for (const [name, server] of [
      ['bare', bare],
      ['guarded', guarded],
    ] as const) {
      for (let i = 0; i < 250; i++) {
        const t0 = process.hrtime.bigint();
        await (server as ApolloServer<any>).executeOperation(op, ctx);
        if (round > 2) times[name].push(ms(t0));
      }
    }
  }
  const b = summary(times.bare);
  const g = summary(times.guarded);
  const doc = parse(PAGE);
  const costTimes: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = process.hrtime.bigint();
    protection.cost(schema, doc, { n: 100 }, null);
    costTimes.push(ms(t0));
  }
  const c = summary(costTimes.slice(200));
  console.log('\nProtection plugin overhead per request (same operation, same process, interleaved)\n');
  console.log('| run | p50 ms | p99 ms |');
  console.log('|---|---|---|');
  console.log(`| Apollo without protection | ${b.p50.toFixed(3)} | ${b.p99.toFixed(3)} |`);
  console.log(
    `| Apollo with protection (${config.redisUrl ? 'Redis' : 'memory'} limiter) | ${g.p50.toFixed(3)} | ${g.p99.toFixed(3)} |`,
  );
  console.log(
    `| cost analysis alone, 100-product page (cost ${protection.cost(schema, doc, { n: 100 }, null)}) | ${c.p50.toFixed(3)} | ${c.p99.toFixed(3)} |`,
  );
  await Promise.all([bare.stop(), guarded.stop()]);
  await protection.close();
}

/** A POST from a chosen local address (the flood and the user count against different IPs). */
function postFrom(url: string, body: string, localAddress: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function signInUnderFlood(serverUrl: string): Promise<void> {
  const url = await freshDatabase(serverUrl, 'bench_protection');
  const port = await freePort();
  const children: ChildProcess[] = [];
  try {
    children.push(
      startChild('dist/src/main.js', {
        DATABASE_URL: url,
        PAYMENT_PROVIDER: 'sandbox', // a DATABASE_URL server names its card provider
        PORT: String(port),
        DEMO_DATA: 'false',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'development',
        ADMIN_PASSWORD: 'bench-admin-password',
        DATA_DIR: join(ROOT, '.data', 'bench'),
      }),
    );
    const gql = `http://127.0.0.1:${port}/graphql`;
    await waitFor(gql, JSON.stringify({ query: '{ __typename }' }));
    const email = `legit-${randomBytes(3).toString('hex')}@example.com`;
    await post(
      gql,
      JSON.stringify({
        query: `mutation($i: SignUpInput!) { signUp(input: $i) { __typename } }`,
        variables: { i: { email, password: 'legit-password-1', name: 'Legit' } },
      }),
    );
    const signIn = (e: string, p: string) =>
      JSON.stringify({
        query: `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { __typename } }`,
        variables: { e, p },
      });
    const legit = () =>
      closedLoop(1, (DURATION * 1000) / 2, async () => {
        const r = await postFrom(gql, signIn(email, 'legit-password-1'), '127.0.0.1');
        if (r.body.data?.signIn?.__typename !== 'AuthPayload') throw new Error(JSON.stringify(r.body));
        return true;
      });
    const quiet = await legit();
    let flooding = true;
    let floodAnswers = 0;
    let floodLimited = 0;
    const flood = Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        while (flooding) {
          const r = await postFrom(
            gql,
            signIn(`victim-${i}@example.com`, randomBytes(6).toString('hex')),
            '127.0.0.2',
          );
          floodAnswers++;
          if (r.status === 429) floodLimited++;
        }
      }),
    );
    const loud = await legit();
    flooding = false;
    await flood;
    console.log('\nSign-in of a legitimate user (127.0.0.1) while 20 clients flood sign-in (127.0.0.2)\n');
    console.log('| run | sign-ins/s | p50 ms | p99 ms | errors |');
    console.log('|---|---|---|---|---|');
    console.log(
      `| no flood | ${quiet.rps.toFixed(1)} | ${quiet.p50.toFixed(0)} | ${quiet.p99.toFixed(0)} | ${quiet.errors} |`,
    );
    console.log(
      `| during the flood | ${loud.rps.toFixed(1)} | ${loud.p50.toFixed(0)} | ${loud.p99.toFixed(0)} | ${loud.errors} |`,
    );
    console.log(`\nflood: ${floodAnswers} answers, ${floodLimited} of them 429 RATE_LIMITED`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function protectionBench(serverUrl: string): Promise<void> {
  await pluginOverhead();
  await signInUnderFlood(serverUrl);
}
