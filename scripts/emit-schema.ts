import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaText } from '../src/server/schema';

/** Writes schema.graphql from the code-first schema; a test fails when the committed file is stale. */
const file = join(__dirname, '..', '..', 'schema.graphql');
writeFileSync(file, schemaText());
console.log(`wrote ${file}`);
