import { describe, expect, it } from 'vitest'
import { ROUTES } from './routes.js'
import { ExoscaleSpec } from './spec.js'
import { ZONES } from './types.js'

const spec = ExoscaleSpec.load()
const UUID = '3fa85f64-5717-4562-b3fc-2c963f66afa6'

describe('ExoscaleSpec', () => {
  it('knows the zones of the spec and they match ours', () => {
    expect([...spec.zoneNames].sort()).toEqual([...ZONES].sort())
  })

  it('compiles the request and response schemas of every operation the simulator serves', () => {
    expect(spec.operations.size).toBeGreaterThan(300)
    for (const operationId of Object.keys(ROUTES)) {
      expect(spec.operations.has(operationId), operationId).toBe(true)
      expect(() => spec.validateRequestBody(operationId, {})).not.toThrow()
      expect(() => spec.validateResponse(operationId, {})).not.toThrow()
    }
  })

  it('compiles schemas whose patterns are invalid under the u flag', () => {
    // create-dbaas-service-grafana has such a pattern; Ajv must not throw on it.
    expect(() => spec.validateRequestBody('create-dbaas-service-grafana', {})).not.toThrow()
  })

  it('routes action paths apart from plain resource paths', () => {
    const start = spec.match('PUT', `/instance/${UUID}:start`)
    expect(start.kind === 'found' && start.operation.operationId).toBe('start-instance')
    const get = spec.match('GET', `/instance/${UUID}`)
    expect(get.kind === 'found' && get.operation.operationId).toBe('get-instance')
    expect(get.kind === 'found' && get.pathParams).toEqual({ id: UUID })
    const field = spec.match('DELETE', `/instance/${UUID}/labels`)
    expect(field.kind === 'found' && field.operation.operationId).toBe('reset-instance-field')
    expect(spec.match('PATCH', '/instance').kind).toBe('method-not-allowed')
    expect(spec.match('GET', '/instances').kind).toBe('not-found')
    expect(spec.match('GET', `/instance/${UUID}:nope`).kind).toBe('not-found')
  })

  it('names the offending field of a request body', () => {
    const body = { 'disk-size': 50, 'instance-type': { id: UUID }, template: { id: UUID } }
    expect(spec.validateRequestBody('create-instance', body)).toBeUndefined()
    expect(spec.validateRequestBody('create-instance', { ...body, zone: 'x' })).toBe(
      'unknown field "zone" in body',
    )
    expect(
      spec.validateRequestBody('create-instance', { ...body, template: { id: UUID, name: 'u' } }),
    ).toBe('unknown field "template.name" in body')
    expect(spec.validateRequestBody('create-instance', { ...body, 'disk-size': '50' })).toBe(
      'invalid body.disk-size: must be integer',
    )
    expect(spec.validateRequestBody('create-instance', { ...body, 'disk-size': 9 })).toBe(
      'invalid body.disk-size: must be >= 10',
    )
    const { template: _t, ...noTemplate } = body
    expect(spec.validateRequestBody('create-instance', noTemplate)).toBe(
      'missing required field "template" in body',
    )
    expect(
      spec.validateRequestBody('create-instance', { ...body, 'security-groups': [{ id: 'x' }] }),
    ).toBe('invalid body.security-groups[0].id: must match format "uuid"')
    expect(
      spec.validateRequestBody('create-instance', { ...body, 'public-ip-assignment': 'v6' }),
    ).toBe('invalid body.public-ip-assignment: must be one of "dual", "inet4", "none"')
  })

  it('accepts nullable fields as null', () => {
    expect(spec.validateRequestBody('update-instance', { labels: null })).toBeUndefined()
    expect(spec.validateRequestBody('update-instance', { labels: { a: 1 } })).toBe(
      'invalid body.labels.a: must be string',
    )
  })

  it('catches off-spec answers (so the self-check is not vacuous)', () => {
    expect(spec.validateComponent('instance', { id: UUID, state: 'running' })).toBeUndefined()
    expect(spec.validateComponent('instance', { id: UUID, zone: 'ch-gva-2' })).toBe(
      'unknown field "zone" in instance',
    )
    expect(spec.validateComponent('instance', { state: 'booting' })).toMatch(/instance.state/)
    expect(spec.validateComponent('instance-type', { cpus: 0 })).toMatch(/cpus: must be > 0/)
    expect(spec.validateResponse('get-operation', { id: UUID, state: 'done' })).toMatch(
      /response.state/,
    )
    expect(spec.validateResponse('list-instances', { instances: [{ 'disk-size': 10 }] })).toBe(
      'unknown field "instances[0].disk-size" in response',
    )
  })
})
