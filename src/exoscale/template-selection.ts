import { ExoscaleError } from './errors.js'
import type { Template } from './schema-types.js'

/** Milliseconds of a template's `created-at`, or -Infinity when missing or unparsable. */
function createdAt(t: Template): number {
  const ms = t['created-at'] ? Date.parse(t['created-at']) : Number.NaN
  return Number.isNaN(ms) ? Number.NEGATIVE_INFINITY : ms
}

/**
 * The newest template (by `created-at`) whose name is exactly `name`, or whose id is `name`;
 * undefined when none matches. Duplicate names are normal on Exoscale (point releases, private
 * copies): egoscale v2 and terraform pick the newest too.
 */
export function newestTemplateNamed(
  templates: readonly Template[],
  name: string,
): Template | undefined {
  const byId = templates.find((t) => t.id === name)
  if (byId) return byId
  let best: Template | undefined
  for (const t of templates) {
    if (t.name !== name) continue
    if (!best || createdAt(t) > createdAt(best)) best = t
  }
  return best
}

const MAX_LISTED = 40

/** The exoscale_not_found error for a template name that matched nothing. */
export function templateNotFound(
  name: string,
  zone: string,
  candidates: readonly Template[],
): ExoscaleError {
  const names = [...new Set(candidates.map((t) => t.name).filter((n): n is string => !!n))].sort()
  const shown = names.slice(0, MAX_LISTED).map((n) => JSON.stringify(n))
  const more = names.length > MAX_LISTED ? `, and ${names.length - MAX_LISTED} more` : ''
  return new ExoscaleError(
    'exoscale_not_found',
    `no template named "${name}" in zone ${zone} (public or private): set EXOSCALE_TEMPLATE to one of ${shown.join(', ') || '(none listed)'}${more}`,
  )
}
