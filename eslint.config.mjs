import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'
import path from 'node:path'
import { checkImport } from './scripts/layers.mjs'

const srcDir = path.resolve(import.meta.dirname, 'src')

/** Enforces the one-way dependencies of scripts/layers.mjs on every relative import. */
const layersRule = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const check = (node) => {
      if (!node.source || typeof node.source.value !== 'string') return
      const message = checkImport(srcDir, context.filename, node.source.value)
      if (message) context.report({ node: node.source, message })
    }
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    }
  },
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'src/exoscale/openapi.gen.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { exollama: { rules: { layers: layersRule } } },
    rules: {
      'exollama/layers': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'exit',
          message: 'Only src/main.ts exits; throw a typed error instead.',
        },
        {
          object: 'process',
          property: 'env',
          message: 'Read the environment in src/config (or src/cli) and pass values in.',
        },
      ],
    },
  },
  {
    // The dashboard runs in the browser.
    files: ['src/dashboard/static/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // The edges: the CLI prints and reads the environment; main exits.
    files: ['src/cli/**', 'src/main.ts', 'src/config/**'],
    rules: { 'no-console': 'off', 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**', '**/*.test.ts', '*.config.*'],
    rules: { 'no-console': 'off', 'no-restricted-properties': 'off' },
  },
)
