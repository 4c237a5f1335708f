import { badRequest } from './api-error.js'

/**
 * The `labels` query filter of list-instances. Its format is undocumented; the simulator accepts
 * the two forms seen in Exoscale's own code (karpenter-provider-exoscale): space-separated
 * `key=value` pairs (a bare `key` means "has this label") and a JSON object. All pairs must match.
 * Clients must filter by labels themselves as well (DESIGN §6).
 */
export type LabelsFilter = ReadonlyArray<{ key: string; value: string | undefined }>

export function parseLabelsFilter(raw: string): LabelsFilter {
  const text = raw.trim()
  if (text === '') throw badRequest('invalid query parameter labels: empty filter')
  if (text.startsWith('{')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw badRequest('invalid query parameter labels: not valid JSON')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw badRequest('invalid query parameter labels: must be a JSON object')
    }
    return Object.entries(parsed).map(([key, value]) => {
      if (typeof value !== 'string') {
        throw badRequest(`invalid query parameter labels: value of ${key} must be a string`)
      }
      return { key, value }
    })
  }
  return text.split(/\s+/).map((pair) => {
    const eq = pair.indexOf('=')
    const key = eq < 0 ? pair : pair.slice(0, eq)
    if (key === '') throw badRequest(`invalid query parameter labels: "${pair}" has no key`)
    return { key, value: eq < 0 ? undefined : pair.slice(eq + 1) }
  })
}

export function matchesLabels(
  labels: Readonly<Record<string, string>>,
  filter: LabelsFilter,
): boolean {
  return filter.every(({ key, value }) =>
    value === undefined ? Object.hasOwn(labels, key) : labels[key] === value,
  )
}
