import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'demo-backup/**', 'bench/results/**', 'dist/**', 'docs/api/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // examples/ are plain JavaScript for Node, as a user would write them
    files: ['examples/**/*.mjs'],
    languageOptions: {
      globals: { console: 'readonly', process: 'readonly', AbortController: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
  {
    // the consumer-package test's plain-Node programs (ES module and CommonJS), as a package user would write them
    files: ['test/e2e/consumer/**/*.mjs', 'test/e2e/consumer/**/*.cjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
  {
    files: ['test/e2e/consumer/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // the photos ui page: plain browser JavaScript, served as is
    files: ['src/ui/static/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly', document: 'readonly', fetch: 'readonly', EventSource: 'readonly', ResizeObserver: 'readonly',
        requestAnimationFrame: 'readonly', performance: 'readonly', Intl: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
      },
    },
  },
);
