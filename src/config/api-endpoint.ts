import type { Config } from './load-config.js'

/**
 * The Exoscale API base URL for `zone` (default: the configured zone): EXOSCALE_API_ENDPOINT
 * with `{zone}` replaced. Every API call goes there, never to an endpoint the API advertises.
 */
export function apiEndpointFor(config: Config, zone: string = config.values.EXOSCALE_ZONE): string {
  return config.values.EXOSCALE_API_ENDPOINT.replaceAll('{zone}', zone)
}
