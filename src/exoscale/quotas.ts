import type { CallOptions } from './call-options.js'
import { segment, type ExoscaleHttp } from './http.js'
import type { JsonResponseBody, Quota } from './schema-types.js'

/** GET /quota: every `{resource, usage, limit}` of the organization (`limit` -1 = unlimited). */
export async function listQuotas(http: ExoscaleHttp, options: CallOptions = {}): Promise<Quota[]> {
  const body = await http.request<JsonResponseBody<'list-quotas'>>({
    method: 'GET',
    path: '/quota',
    signal: options.signal,
  })
  return body?.quotas ?? []
}

/** GET /quota/{entity}, e.g. `instance`, `gpu`, `gpua5000`. */
export async function getQuota(
  http: ExoscaleHttp,
  entity: string,
  options: CallOptions = {},
): Promise<Quota> {
  const body = await http.request<JsonResponseBody<'get-quota'>>({
    method: 'GET',
    path: `/quota/${segment(entity)}`,
    signal: options.signal,
  })
  return body ?? {}
}
