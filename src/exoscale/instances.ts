import type { CallOptions } from './call-options.js'
import { ExoscaleError } from './errors.js'
import { segment, type ExoscaleHttp } from './http.js'
import { filterByLabels, labelsQueryValue } from './labels.js'
import { operationOf } from './operations.js'
import type {
  CreateInstanceRequest,
  Instance,
  JsonResponseBody,
  Labels,
  ListInstancesQuery,
  Operation,
  StartInstanceRequest,
} from './schema-types.js'

export interface ListInstancesOptions extends CallOptions, Omit<ListInstancesQuery, 'labels'> {
  /** Only instances carrying all these labels (filtered by the server AND here). */
  labels?: Readonly<Labels> | undefined
}

/**
 * GET /instance in the client's zone. With `labels`, the filter is sent as the `labels` query
 * argument (`k=v k2=v2`) and applied again to the answer, because that argument's format is
 * undocumented: the result never contains an instance without the labels.
 */
export async function listInstances(
  http: ExoscaleHttp,
  options: ListInstancesOptions = {},
): Promise<Instance[]> {
  const body = await http.request<JsonResponseBody<'list-instances'>>({
    method: 'GET',
    path: '/instance',
    query: {
      labels: options.labels ? labelsQueryValue(options.labels) : undefined,
      'manager-id': options['manager-id'],
      'manager-type': options['manager-type'],
      'ip-address': options['ip-address'],
    },
    signal: options.signal,
  })
  const instances = body?.instances ?? []
  return options.labels ? filterByLabels(instances, options.labels) : instances
}

/** GET /instance/{id}. A missing instance is exoscale_not_found. */
export async function getInstance(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<Instance> {
  const body = await http.request<JsonResponseBody<'get-instance'>>({
    method: 'GET',
    path: `/instance/${segment(id)}`,
    signal: options.signal,
  })
  return body ?? {}
}

const BASE64_LINE = /^[A-Za-z0-9+/]+={0,2}$/
const USER_DATA_MAX = 32768

function badRequest(message: string): ExoscaleError {
  return new ExoscaleError('exoscale_bad_request', message, { method: 'POST', path: '/instance' })
}

/**
 * Checks the limits of the spec that a create would otherwise fail on after a round trip:
 * `disk-size` 10…51200 GiB, `name` 1…255 characters, `user-data` one line of padded base64 of
 * at most 32768 characters.
 */
export function validateCreateInstance(request: CreateInstanceRequest): void {
  const disk = request['disk-size']
  if (!Number.isInteger(disk) || disk < 10 || disk > 51200) {
    throw badRequest(
      `disk size ${disk} GiB is outside Exoscale's 10…51200 GiB: fix EXOSCALE_DISK_SIZE`,
    )
  }
  if (request.name !== undefined && (request.name.length < 1 || request.name.length > 255)) {
    throw badRequest('the instance name must be 1 to 255 characters: fix EXOLLAMA_NAME')
  }
  const userData = request['user-data']
  if (userData !== undefined) {
    if (!BASE64_LINE.test(userData) || userData.length % 4 !== 0) {
      throw badRequest('user-data must be one line of padded base64 (an internal error: report it)')
    }
    if (userData.length > USER_DATA_MAX) {
      throw badRequest(
        `user-data is ${userData.length} base64 characters, above Exoscale's ${USER_DATA_MAX}: shrink the cloud-init`,
      )
    }
  }
}

/**
 * POST /instance. Sent exactly once, never retried (a lost answer does not mean no instance):
 * on any error the caller looks the instance up by its intent label. The finished operation's
 * `reference.id` is the instance id.
 */
export async function createInstance(
  http: ExoscaleHttp,
  request: CreateInstanceRequest,
  options: CallOptions = {},
): Promise<Operation> {
  validateCreateInstance(request)
  const body = await http.request<JsonResponseBody<'create-instance'>>({
    method: 'POST',
    path: '/instance',
    body: request,
    idempotent: false,
    signal: options.signal,
  })
  return operationOf(body)
}

/** DELETE /instance/{id}. */
export async function deleteInstance(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'delete-instance'>>({
    method: 'DELETE',
    path: `/instance/${segment(id)}`,
    signal: options.signal,
  })
  return operationOf(body)
}

export interface StartInstanceOptions extends CallOptions {
  rescueProfile?: NonNullable<StartInstanceRequest['rescue-profile']> | undefined
}

/** PUT /instance/{id}:start with body `{}` (the body is required by the spec). */
export async function startInstance(
  http: ExoscaleHttp,
  id: string,
  options: StartInstanceOptions = {},
): Promise<Operation> {
  const request: StartInstanceRequest = options.rescueProfile
    ? { 'rescue-profile': options.rescueProfile }
    : {}
  const body = await http.request<JsonResponseBody<'start-instance'>>({
    method: 'PUT',
    path: `/instance/${segment(id)}:start`,
    body: request,
    signal: options.signal,
  })
  return operationOf(body)
}

/** PUT /instance/{id}:stop, no body. */
export async function stopInstance(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'stop-instance'>>({
    method: 'PUT',
    path: `/instance/${segment(id)}:stop`,
    signal: options.signal,
  })
  return operationOf(body)
}

/** PUT /instance/{id}:reboot, no body. */
export async function rebootInstance(
  http: ExoscaleHttp,
  id: string,
  options: CallOptions = {},
): Promise<Operation> {
  const body = await http.request<JsonResponseBody<'reboot-instance'>>({
    method: 'PUT',
    path: `/instance/${segment(id)}:reboot`,
    signal: options.signal,
  })
  return operationOf(body)
}
