/**
 * Turns OpenAPI 3.0 schema objects into JSON Schema (draft-07) that Ajv 8 compiles:
 * `#/components/schemas/X` refs point into one shared definitions document, `nullable` becomes a
 * `null` type, boolean `exclusiveMinimum/Maximum` become numbers, annotations are dropped.
 *
 * With `closed: true` every object schema that lists `properties` and says nothing about
 * `additionalProperties` is closed, so unknown fields are errors. The spec is open by default;
 * the simulator is deliberately stricter than the real API so a client that sends (or a
 * simulator that answers) a field the spec does not define fails.
 */

/** A JSON value as it comes from JSON.parse. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
export type JsonObject = { [key: string]: Json }

/** The id of the shared definitions document that converted refs point to. */
export const DEFINITIONS_ID = 'exoscale-openapi-v2'

const KEPT = new Set([
  'type',
  'properties',
  'required',
  'items',
  'additionalProperties',
  'enum',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
])

export interface ConvertOptions {
  closed: boolean
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Converts one schema object (recursively). */
export function convertSchema(schema: Json, options: ConvertOptions): Json {
  if (!isObject(schema)) return schema
  const ref = schema['$ref']
  if (typeof ref === 'string') {
    const name = ref.replace(/^#\/components\/schemas\//, '')
    const converted: JsonObject = { $ref: `${DEFINITIONS_ID}#/definitions/${name}` }
    return schema['nullable'] === true ? { anyOf: [converted, { type: 'null' }] } : converted
  }
  const out: JsonObject = {}
  for (const [key, value] of Object.entries(schema)) {
    if (!KEPT.has(key)) continue
    if (key === 'properties' && isObject(value)) {
      const props: JsonObject = {}
      for (const [name, sub] of Object.entries(value)) props[name] = convertSchema(sub, options)
      out[key] = props
    } else if (key === 'items' || (key === 'additionalProperties' && isObject(value))) {
      out[key] = convertSchema(value, options)
    } else {
      out[key] = value
    }
  }
  for (const bound of ['Minimum', 'Maximum'] as const) {
    const flag = out[`exclusive${bound}`]
    if (typeof flag === 'boolean') {
      const limit = out[bound.toLowerCase()]
      delete out[`exclusive${bound}`]
      if (flag && typeof limit === 'number') {
        delete out[bound.toLowerCase()]
        out[`exclusive${bound}`] = limit
      }
    }
  }
  if (schema['nullable'] === true) {
    if (typeof out['type'] === 'string') out['type'] = [out['type'], 'null']
    if (Array.isArray(out['enum'])) out['enum'] = [...out['enum'], null]
  }
  if (
    options.closed &&
    isObject(out['properties']) &&
    out['additionalProperties'] === undefined &&
    (out['type'] === 'object' || out['type'] === undefined)
  ) {
    out['additionalProperties'] = false
  }
  return out
}

/** The definitions document that converted refs resolve against. */
export function definitionsDocument(
  componentSchemas: JsonObject,
  options: ConvertOptions,
): JsonObject {
  const definitions: JsonObject = {}
  for (const [name, schema] of Object.entries(componentSchemas)) {
    definitions[name] = convertSchema(schema, options)
  }
  return { $id: DEFINITIONS_ID, definitions }
}
