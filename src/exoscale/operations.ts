import type { CallOptions } from './call-options.js'
import { ExoscaleError } from './errors.js'
import { segment, type ExoscaleHttp } from './http.js'
import type { JsonResponseBody, Operation } from './schema-types.js'

/** GET /operation/{id}. Operations are zone-local: the client polls the endpoint that accepted them. */
export async function getOperation(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'get-operation'>>({
    method: 'GET',
    path: `/operation/${segment(id)}`,
    signal: options.signal,
  })
  if (!body) {
    throw new ExoscaleError(
      'exoscale_server_error',
      `the Exoscale API returned an empty body for operation ${id}: retry later`,
      { method: 'GET', path: `/operation/${id}` },
    )
  }
  return body
}

/**
 * The Operation a mutating call returned. Some endpoints answer 204 with no body (egoscale
 * 3.1.43 changelog): the change is then already done, so it reads as a finished operation.
 */
export function operationOf(body: Operation | undefined): Operation {
  return body ?? { state: 'success' }
}
