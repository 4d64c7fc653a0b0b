import tseslint from 'typescript-eslint';

/** Import boundaries (docs/architecture.md): what each layer may not reach. */
const noImport = (patterns) => [
  'error',
  { patterns: patterns.map(([group, message]) => ({ group, message })) },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'examples/**/dist/', 'examples/storefront/src/gql/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/modules/**/*.ts', 'src/server/**/*.ts'],
    rules: {
      'no-restricted-imports': noImport([
        [
          ['**/sandbox', '**/sandbox/**'],
          'The sandbox is a separate program: talk to it through CardProvider.',
        ],
      ]),
    },
  },
  {
    files: ['src/db/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': noImport([
        [
          ['**/modules', '**/modules/**', '**/server/**', '**/sandbox/**'],
          'db/ and shared/ sit below the modules: pass what they need in.',
        ],
      ]),
    },
  },
);
