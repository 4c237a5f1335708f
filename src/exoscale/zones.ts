import type { CallOptions } from './call-options.js'
import type { ExoscaleHttp } from './http.js'
import type { JsonResponseBody, Zone } from './schema-types.js'

/**
 * GET /zone, unsigned: it is public, and restricted IAM keys get 403 when they sign it
 * (egoscale PR #767, python-exoscale PR #90). The `api-endpoint` of each zone is informative
 * only: the client always talks to its own base URL.
 */
export async function listZones(http: ExoscaleHttp, options: CallOptions = {}): Promise<Zone[]> {
  const body = await http.request<JsonResponseBody<'list-zones'>>({
    method: 'GET',
    path: '/zone',
    signed: false,
    signal: options.signal,
  })
  return body?.zones ?? []
}
