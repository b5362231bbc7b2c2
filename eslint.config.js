// General lint. The layer boundaries (docs/architecture.md) and the no-cycle rule are checked over the real import
// graph by test/architecture/imports.test.ts (part of `npm test`), which needs no native resolver package.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test/fixtures/**', 'native/build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Named exports only in library and CLI code.
    files: ['src/**/*.ts', 'cmd/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'use named exports' },
        { selector: 'ExportSpecifier[exported.name="default"]', message: 'use named exports' },
      ],
    },
  },
  {
    // The install-time build script of the optional native addon is plain Node ESM.
    files: ['native/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly' } },
  },
  {
    // Benchmarks drive third-party CommonJS peers (udx-native, secret-stream) that ship no types.
    files: ['bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
