import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const PURE_BANS = {
  patterns: [
    { group: ['node:*'], message: 'deciders and projections stay pure: no Node built-ins' },
    { group: ['kysely', 'fastify', 'mitt', 'argon2', 'better-sqlite3'], message: 'deciders stay pure' },
  ],
};

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'coverage/**', 'server-data/**', '*.config.*'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='sql'][callee.property.name=/^(raw|lit|ref|id|table)$/] > :not(Literal)",
          message: 'sql.raw/lit/ref/id/table take literals only (RELIABILITY.md §2.11)',
        },
      ],
    },
  },
  {
    files: ['src/commands/**/*.ts'],
    ignores: ['src/commands/handle.ts', 'src/commands/*-service.ts'],
    rules: { 'no-restricted-imports': ['error', PURE_BANS] },
  },
  {
    files: ['test/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
  prettier,
);
