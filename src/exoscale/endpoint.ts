import { ExoscaleError } from './errors.js'

/** The default zone of every official tool. */
export const DEFAULT_ZONE = 'ch-gva-2'

const ZONE_RE = /^[a-z]{2}-[a-z]{2,5}-\d{1,2}$/

/** Throws exoscale_bad_request unless `zone` looks like an Exoscale zone name (ch-gva-2). */
export function assertZoneName(zone: string): void {
  if (!ZONE_RE.test(zone)) {
    throw new ExoscaleError(
      'exoscale_bad_request',
      `"${zone}" is not an Exoscale zone name: set EXOSCALE_ZONE to one like ch-gva-2, de-fra-1 or at-vie-2`,
    )
  }
}

/** `https://api-{zone}.exoscale.com/v2` (the spec's server URL). */
export function zoneEndpoint(zone: string): string {
  assertZoneName(zone)
  return `https://api-${zone}.exoscale.com/v2`
}

/**
 * The base URL of every call: `endpoint` (EXOSCALE_API_ENDPOINT, which includes /v2) when given,
 * otherwise the zone's. Never the `api-endpoint` a /zone answer advertises.
 */
export function resolveBaseUrl(zone: string, endpoint?: string): string {
  if (endpoint === undefined || endpoint.trim() === '') return zoneEndpoint(zone)
  let url: URL
  try {
    url = new URL(endpoint.trim())
  } catch (cause) {
    throw new ExoscaleError(
      'exoscale_bad_request',
      `EXOSCALE_API_ENDPOINT "${endpoint}" is not a URL: use e.g. https://api-ch-gva-2.exoscale.com/v2`,
      { cause },
    )
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new ExoscaleError(
      'exoscale_bad_request',
      `EXOSCALE_API_ENDPOINT "${endpoint}" must be an http(s) base URL without query: use e.g. https://api-ch-gva-2.exoscale.com/v2`,
    )
  }
  return url.href.replace(/\/+$/, '')
}
