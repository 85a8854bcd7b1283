import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      curly: ['error', 'multi-line'],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    // Machines are pure: no I/O, no timers, nothing but xstate, zod and our own types.
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'http', 'https', 'net', 'crypto', 'timers'],
              message: 'machines are pure',
            },
            { group: ['ioredis', 'bullmq', 'undici', 'pino'], message: 'machines are pure' },
            {
              group: ['**/platform/**', '**/engine/**', '**/workers/**', '**/simulator/**'],
              message: 'machines are pure',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'fetch', 'Date'],
    },
  },
  {
    files: [
      'bin/**/*.js',
      'src/cli/**/*.ts',
      'src/main.ts',
      'src/demo.ts',
      'src/simulator/main.ts',
      'bench/**/*.ts',
      'workers/**/main*.ts',
    ],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
