import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaText } from '../../src/server/schema';

test('schema.graphql is the emitted schema (run `npm run schema` after changing types)', () => {
  const committed = readFileSync(join(__dirname, '..', '..', 'schema.graphql'), 'utf8');
  expect(committed).toBe(schemaText());
});
