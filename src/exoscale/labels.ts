import type { Instance, Labels } from './schema-types.js'

/** Whether `labels` has every key of `filter` with the same value. */
export function matchesLabels(labels: Labels | undefined, filter: Readonly<Labels>): boolean {
  return Object.entries(filter).every(([k, v]) => labels?.[k] === v)
}

/** The instances whose labels match `filter`. */
export function filterByLabels<T extends Pick<Instance, 'labels'>>(
  items: readonly T[],
  filter: Readonly<Labels>,
): T[] {
  return items.filter((i) => matchesLabels(i.labels, filter))
}

/**
 * The `labels` query value of list-instances for `filter`: `k1=v1 k2=v2` (space-separated pairs,
 * keys sorted), the form Exoscale's own karpenter-provider-exoscale sends
 * (`pkg/utils/labels/labels.go`). The format is undocumented, so callers never trust the server's
 * filtering alone (see filterByLabels). Undefined for an empty filter, and when a key or value
 * holds whitespace or `=` in a key (which this form cannot express): then only the client filters.
 */
export function labelsQueryValue(filter: Readonly<Labels>): string | undefined {
  const keys = Object.keys(filter).sort()
  if (keys.length === 0) return undefined
  const expressible = keys.every((k) => k !== '' && !/[\s=]/.test(k) && !/\s/.test(filter[k] ?? ''))
  if (!expressible) return undefined
  return keys.map((k) => `${k}=${filter[k]}`).join(' ')
}
