// Layer rules from STYLE.md: core is pure, host/cli are editor-free.
import tseslint from 'typescript-eslint';

const noVscode = { name: 'vscode', message: 'Only src/ui and src/extension.ts may import vscode.' };
const noIo = ['ssh2', 'dockerode', 'fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process', 'net', 'node:net', 'http', 'node:http'].map(
  (name) => ({ name, message: 'src/core is pure: no I/O. Put it in src/host.' }),
);

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.cache/**', 'test-results/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json' } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  { files: ['src/host/**/*.ts', 'src/cli/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [noVscode] }] } },
  { files: ['src/core/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: [noVscode, ...noIo] }], 'no-console': 'error' } },
  { files: ['src/ui/**/*.ts', 'src/extension.ts'], rules: { 'no-console': 'error' } },
  { files: ['webview/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)src/(?!core/protocol$)', message: 'The webview imports src/core/protocol.ts only.' }] }] } },
);
