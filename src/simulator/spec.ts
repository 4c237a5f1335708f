import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsPlugin from 'ajv-formats'
import {
  DEFINITIONS_ID,
  convertSchema,
  definitionsDocument,
  type Json,
  type JsonObject,
} from './openapi-schema.js'

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module.
const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ??
  addFormatsPlugin) as unknown as (ajv: Ajv) => Ajv

/** The spec file shipped with the package (works from src/ and from dist/). */
export const SPEC_URL = new URL('../../spec/exoscale-openapi-v2.json', import.meta.url)

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH'

export interface SpecParameter {
  name: string
  in: 'query' | 'path' | 'header' | 'cookie'
  required: boolean
  schema: Json
}

/** One operation of the spec, as the simulator routes and validates it. */
export interface SpecOperation {
  operationId: string
  method: HttpMethod
  /** The spec's path template, e.g. `/instance/{id}:start`. */
  path: string
  parameters: SpecParameter[]
  /** Undefined when the operation takes no body. */
  requestBody: { required: boolean; schema: Json } | undefined
  /** The 200 response schema, if the spec gives one. */
  responseSchema: Json | undefined
}

export type RouteMatch =
  | { kind: 'found'; operation: SpecOperation; pathParams: Record<string, string> }
  | { kind: 'method-not-allowed' }
  | { kind: 'not-found' }

interface Route {
  regex: RegExp
  names: string[]
  literalLength: number
  byMethod: Map<string, SpecOperation>
}

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Ajv's instancePath (`/security-groups/0/id`) as a field name (`security-groups[0].id`). */
export function fieldName(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce(
      (acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
      '',
    )
}

/** One line that names the offending field, from Ajv's first error. */
export function describeAjvError(error: ErrorObject, root: string): string {
  const at = fieldName(error.instancePath)
  const where = at ? `${root}.${at}` : root
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown field "${at ? `${at}.` : ''}${String(params['additionalProperty'])}" in ${root}`
    case 'required':
      return `missing required field "${at ? `${at}.` : ''}${String(params['missingProperty'])}" in ${root}`
    case 'enum':
      return `invalid ${where}: must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`
    default:
      return `invalid ${where}: ${error.message ?? 'invalid value'}`
  }
}

/**
 * The Exoscale OpenAPI v2 spec as a router and a set of Ajv validators (closed objects: unknown
 * fields fail). Validators compile lazily, per schema.
 */
export class ExoscaleSpec {
  readonly zoneNames: readonly string[]
  readonly #routes: Route[] = []
  readonly #operations = new Map<string, SpecOperation>()
  readonly #ajv: Ajv
  readonly #validators = new Map<string, ValidateFunction>()

  constructor(document: JsonObject) {
    const components = document['components'] as JsonObject
    const schemas = components['schemas'] as JsonObject
    const zoneEnum = (schemas['zone-name'] as JsonObject)['enum'] as string[]
    this.zoneNames = [...zoneEnum]
    this.#ajv = new Ajv({
      allErrors: false,
      strict: false,
      validateFormats: true,
      // A few spec patterns use escapes that are invalid under the `u` flag.
      unicodeRegExp: false,
    })
    addFormats(this.#ajv)
    this.#ajv.addSchema(definitionsDocument(schemas, { closed: true }) as object)

    const paths = document['paths'] as JsonObject
    for (const [template, item] of Object.entries(paths)) {
      const pathItem = item as JsonObject
      const names: string[] = []
      let literalLength = 0
      const pattern = template
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const m = /^\{([^}]+)\}$/.exec(part)
          if (m?.[1]) {
            names.push(m[1])
            return '([^/:]+)'
          }
          literalLength += part.length
          return escapeRegex(part)
        })
        .join('')
      const route: Route = {
        regex: new RegExp(`^${pattern}$`),
        names,
        literalLength,
        byMethod: new Map(),
      }
      const shared = (pathItem['parameters'] as Json[] | undefined) ?? []
      for (const method of METHODS) {
        const op = pathItem[method.toLowerCase()] as JsonObject | undefined
        if (!op) continue
        const operation = this.#toOperation(template, method, op, shared)
        route.byMethod.set(method, operation)
        this.#operations.set(operation.operationId, operation)
      }
      this.#routes.push(route)
    }
    this.#routes.sort((a, b) => b.literalLength - a.literalLength)
  }

  /** Loads (and caches) the spec file. */
  static load(url: URL = SPEC_URL): ExoscaleSpec {
    const key = url.href
    let spec = cache.get(key)
    if (!spec) {
      spec = new ExoscaleSpec(JSON.parse(readFileSync(url, 'utf8')) as JsonObject)
      cache.set(key, spec)
    }
    return spec
  }

  /** All operations by id. */
  get operations(): ReadonlyMap<string, SpecOperation> {
    return this.#operations
  }

  operation(operationId: string): SpecOperation {
    const op = this.#operations.get(operationId)
    if (!op) throw new Error(`no operation ${operationId} in the spec`)
    return op
  }

  /** Finds the operation for a method and an API path (below /v2, still escaped). */
  match(method: string, apiPath: string): RouteMatch {
    let pathMatched = false
    for (const route of this.#routes) {
      const m = route.regex.exec(apiPath)
      if (!m) continue
      pathMatched = true
      const operation = route.byMethod.get(method)
      if (!operation) continue
      const pathParams: Record<string, string> = {}
      route.names.forEach((name, i) => (pathParams[name] = m[i + 1] ?? ''))
      return { kind: 'found', operation, pathParams }
    }
    return pathMatched ? { kind: 'method-not-allowed' } : { kind: 'not-found' }
  }

  /** Validates a request body; returns a one-line problem or undefined. */
  validateRequestBody(operationId: string, body: unknown): string | undefined {
    const schema = this.operation(operationId).requestBody?.schema
    if (schema === undefined) return undefined
    return this.#check(`body:${operationId}`, schema, body, 'body')
  }

  /** Validates a (already decoded and typed) parameter value against its schema. */
  validateParameter(
    operationId: string,
    parameter: SpecParameter,
    value: unknown,
  ): string | undefined {
    return this.#check(
      `param:${operationId}:${parameter.in}:${parameter.name}`,
      parameter.schema,
      value,
      `${parameter.in} parameter ${parameter.name}`,
    )
  }

  /** Validates a 200 response body against the operation's response schema. */
  validateResponse(operationId: string, body: unknown): string | undefined {
    const schema = this.operation(operationId).responseSchema
    if (schema === undefined) return undefined
    return this.#check(`response:${operationId}`, schema, body, 'response')
  }

  /** Validates against a component schema by name (e.g. `instance`, `operation`). */
  validateComponent(name: string, value: unknown): string | undefined {
    return this.#check(`component:${name}`, { $ref: `#/components/schemas/${name}` }, value, name)
  }

  #check(key: string, schema: Json, value: unknown, root: string): string | undefined {
    let validate = this.#validators.get(key)
    if (!validate) {
      validate = this.#ajv.compile(convertSchema(schema, { closed: true }) as object)
      this.#validators.set(key, validate)
    }
    if (validate(value)) return undefined
    const first = validate.errors?.[0]
    return first ? describeAjvError(first, root) : `invalid ${root}`
  }

  #toOperation(
    template: string,
    method: HttpMethod,
    op: JsonObject,
    shared: Json[],
  ): SpecOperation {
    const parameters: SpecParameter[] = [...shared, ...((op['parameters'] as Json[]) ?? [])].map(
      (p) => {
        const param = p as JsonObject
        return {
          name: String(param['name']),
          in: param['in'] as SpecParameter['in'],
          required: param['required'] === true,
          schema: (param['schema'] as Json) ?? {},
        }
      },
    )
    const body = op['requestBody'] as JsonObject | undefined
    const bodySchema = body
      ? (((body['content'] as JsonObject)['application/json'] as JsonObject | undefined)?.[
          'schema'
        ] as Json | undefined)
      : undefined
    const ok = (op['responses'] as JsonObject | undefined)?.['200'] as JsonObject | undefined
    const responseSchema = (
      (ok?.['content'] as JsonObject | undefined)?.['application/json'] as JsonObject | undefined
    )?.['schema'] as Json | undefined
    return {
      operationId: String(op['operationId']),
      method,
      path: template,
      parameters,
      requestBody: body
        ? { required: body['required'] === true, schema: bodySchema ?? {} }
        : undefined,
      responseSchema,
    }
  }
}

const cache = new Map<string, ExoscaleSpec>()

export { DEFINITIONS_ID }
