import { createHash } from 'node:crypto';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { addTypenameSelectionDocumentTransform } from '@graphql-codegen/client-preset';

/**
 * graphql-codegen's client preset: typed documents, and a persisted-documents manifest
 * (src/gql/persisted-documents.json) whose ids are "sha256:<hex of the text>", the form the
 * server's TRUSTED_DOCUMENTS_MANIFEST and `documentId` expect. The documents get `__typename`
 * where Apollo Client's cache would add it, so the text Apollo would send is the registered one.
 */
const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      documentTransforms: [addTypenameSelectionDocumentTransform],
      config: { scalars: { DateTime: 'string', JSON: 'unknown' }, enumsAsTypes: true },
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: {
          mode: 'embedHashInDocument',
          hashAlgorithm: (text: string) =>
            `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`,
        },
      },
    },
  },
};

export default config;
