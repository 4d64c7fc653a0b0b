import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, validate } from 'graphql';
import { buildAppSchema } from '../../src/server/schema';

/**
 * The example storefront's committed codegen output (examples/storefront/src/gql) matches its
 * documents (src/documents.ts) and the current schema: a document edited without running
 * `npm run storefront:codegen` would reach the browser as an empty document, and a manifest entry
 * that no longer validates would stop a server enforcing it.
 */

const DIR = join(__dirname, '..', '..', 'examples', 'storefront', 'src');
const sources = [...readFileSync(join(DIR, 'documents.ts'), 'utf8').matchAll(/graphql\(`([^`]*)`\)/g)].map(
  (m) => m[1],
);
const generated = readFileSync(join(DIR, 'gql', 'gql.ts'), 'utf8');
const manifest: Record<string, string> = JSON.parse(
  readFileSync(join(DIR, 'gql', 'persisted-documents.json'), 'utf8'),
);

test('every document of the storefront has its generated typed document', () => {
  expect(sources.length).toBeGreaterThanOrEqual(10);
  for (const source of sources) expect(generated).toContain(JSON.stringify(source));
});

test('the manifest has one entry per document, ids hash their text, and every text validates', () => {
  expect(Object.keys(manifest)).toHaveLength(sources.length);
  const schema = buildAppSchema();
  for (const [id, text] of Object.entries(manifest)) {
    expect(id).toBe(`sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`);
    expect(validate(schema, parse(text))).toEqual([]);
  }
});
