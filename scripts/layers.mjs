// The architecture as data: which top-level folder of src/ may import which.
// Used by the ESLint rule (eslint.config.mjs) and by test/architecture.test.ts.
import path from 'node:path'

/** Folder (or root file, without extension) → folders it may import. Anything else is forbidden. */
export const LAYERS = {
  shared: [],
  config: ['shared'],
  exoscale: ['shared'],
  store: ['shared'],
  recipe: ['shared'],
  simulator: ['shared'],
  provisioner: ['shared', 'config', 'exoscale', 'store', 'recipe'],
  gateway: ['shared', 'config'],
  dashboard: ['shared'],
  app: [
    'shared',
    'config',
    'exoscale',
    'store',
    'recipe',
    'simulator',
    'provisioner',
    'gateway',
    'dashboard',
  ],
  cli: [
    'shared',
    'config',
    'exoscale',
    'store',
    'recipe',
    'simulator',
    'provisioner',
    'gateway',
    'dashboard',
    'app',
  ],
  index: [
    'shared',
    'config',
    'exoscale',
    'store',
    'recipe',
    'simulator',
    'provisioner',
    'gateway',
    'app',
  ],
  main: ['cli'],
}

/** The layer a file under src/ belongs to, or undefined for files outside src/. */
export function layerOf(srcDir, file) {
  const rel = path.relative(srcDir, file)
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined
  const first = rel.split(path.sep)[0]
  return first.endsWith('.ts') ? first.slice(0, -3) : first
}

/**
 * Checks one import. Returns an error message, or undefined when the import is allowed.
 * Only relative specifiers are checked; packages and node: built-ins are free.
 */
export function checkImport(srcDir, fromFile, specifier) {
  if (!specifier.startsWith('.')) return undefined
  const from = layerOf(srcDir, fromFile)
  if (from === undefined) return undefined
  const target = path.resolve(path.dirname(fromFile), specifier)
  const to = layerOf(srcDir, target)
  if (to === undefined) return `src/${from} must not import outside src/ (${specifier})`
  if (to === from) return undefined
  const allowed = LAYERS[from]
  if (allowed === undefined) return `src/${from} is not a known layer: add it to scripts/layers.mjs`
  if (!allowed.includes(to)) {
    return `src/${from} may not import src/${to} (allowed: ${allowed.join(', ') || 'nothing'}); pass it in through a port instead`
  }
  return undefined
}
