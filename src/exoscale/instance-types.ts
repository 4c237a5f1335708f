import type { CallOptions } from './call-options.js'
import { segment, type ExoscaleHttp } from './http.js'
import { selectInstanceType } from './instance-type-selection.js'
import type { InstanceType, JsonResponseBody } from './schema-types.js'

/** GET /instance-type: the types of the zone the client talks to. */
export async function listInstanceTypes(
  http: ExoscaleHttp,
  options: CallOptions = {},
): Promise<InstanceType[]> {
  const body = await http.request<JsonResponseBody<'list-instance-types'>>({
    method: 'GET',
    path: '/instance-type',
    signal: options.signal,
  })
  return body?.['instance-types'] ?? []
}

/** GET /instance-type/{id}. */
export async function getInstanceType(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<InstanceType> {
  const body = await http.request<JsonResponseBody<'get-instance-type'>>({
    method: 'GET',
    path: `/instance-type/${segment(id)}`,
    signal: options.signal,
  })
  return body ?? {}
}

/**
 * The type named `family.size` (family `standard` when omitted) offered in `zone`. Check
 * `authorized` on the result: GPU families usually need an authorization request.
 */
export async function findInstanceType(
  http: ExoscaleHttp,
  zone: string,
  name: string,
  options: CallOptions = {},
): Promise<InstanceType> {
  return selectInstanceType(await listInstanceTypes(http, options), name, zone)
}
