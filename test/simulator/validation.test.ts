import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { call } from './helpers/api.js'
import {
  OP_DELAY,
  TRANSITION,
  createBody,
  createInstance,
  startHarness,
  typeId,
  type SimHarness,
} from './helpers/setup.js'

let h: SimHarness
beforeEach(async () => {
  h = await startHarness()
})
afterEach(async () => {
  await h.sim.close()
})

const UUID = '3fa85f64-5717-4562-b3fc-2c963f66afa6'

async function expect400(
  res: { status: number; json: { message?: string } },
  field: string | RegExp,
): Promise<void> {
  expect(res.status).toBe(400)
  expect(Object.keys(res.json)).toEqual(['message'])
  if (typeof field === 'string') expect(res.json.message).toContain(field)
  else expect(res.json.message).toMatch(field)
}

async function runningInstance(): Promise<string> {
  const created = await createInstance(h.target)
  await h.clock.advance(OP_DELAY + TRANSITION)
  return created.json.reference.id as string
}

describe('request bodies are validated strictly against the spec', () => {
  it('accepts a correct create-instance body', async () => {
    const res = await createInstance(h.target)
    expect(res.status).toBe(200)
  })

  it('rejects an unknown field, also nested', async () => {
    await expect400(await createInstance(h.target, { zone: 'ch-gva-2' }), '"zone"')
    const body = await createBody(h.target)
    const nested = { ...body, template: { ...(body.template as object), name: 'x' } }
    await expect400(await h.call('POST', '/instance', { body: nested }), '"template.name"')
  })

  it('rejects a wrong type', async () => {
    await expect400(await createInstance(h.target, { 'disk-size': '50' }), 'disk-size')
    await expect400(await createInstance(h.target, { labels: { a: 1 } }), 'labels.a')
    await expect400(await createInstance(h.target, { 'auto-start': 'yes' }), 'auto-start')
  })

  it('rejects a missing required field', async () => {
    const { template: _template, ...body } = await createBody(h.target)
    await expect400(await h.call('POST', '/instance', { body }), '"template"')
  })

  it('enforces disk-size 10..51200', async () => {
    await expect400(await createInstance(h.target, { 'disk-size': 9 }), 'disk-size')
    await expect400(await createInstance(h.target, { 'disk-size': 51201 }), 'disk-size')
    expect((await createInstance(h.target, { 'disk-size': 10 })).status).toBe(200)
  })

  it('requires user-data to be one line of padded base64 of at most 32768 characters', async () => {
    const raw = Buffer.from('#cloud-config\nruncmd: [echo hi]\n').toString('base64')
    expect(raw.endsWith('=')).toBe(true)
    await expect400(
      await createInstance(h.target, { 'user-data': raw.replace(/=+$/, '') }),
      'user-data',
    )
    await expect400(
      await createInstance(h.target, { 'user-data': `${raw.slice(0, 8)}\n${raw.slice(8)}` }),
      'user-data',
    )
    await expect400(await createInstance(h.target, { 'user-data': '#cloud-config' }), 'user-data')
    await expect400(await createInstance(h.target, { 'user-data': '' }), 'user-data')
    await expect400(
      await createInstance(h.target, { 'user-data': 'QUJD'.repeat(8193) }),
      'user-data',
    )
    expect((await createInstance(h.target, { 'user-data': 'QUJD'.repeat(8192) })).status).toBe(200)
  })

  it('requires Content-Type: application/json on a body', async () => {
    const body = await createBody(h.target)
    await expect400(await h.call('POST', '/instance', { body, contentType: null }), 'Content-Type')
    await expect400(
      await h.call('POST', '/instance', { body, contentType: 'text/plain' }),
      'Content-Type',
    )
    const ok = await h.call('POST', '/instance', {
      body,
      contentType: 'application/json; charset=utf-8',
    })
    expect(ok.status).toBe(200)
  })

  it('rejects a body that is not JSON', async () => {
    await expect400(await h.call('POST', '/instance', { body: '{"disk-size":' }), 'JSON')
  })

  it('rejects a body on operations that take none (:stop, :reboot, DELETE, GET)', async () => {
    const id = await runningInstance()
    await expect400(await h.call('PUT', `/instance/${id}:stop`, { body: {} }), 'stop-instance')
    await expect400(await h.call('PUT', `/instance/${id}:reboot`, { body: {} }), 'reboot-instance')
    await expect400(await h.call('DELETE', `/instance/${id}`, { body: {} }), 'delete-instance')
    await expect400(await h.call('GET', `/instance/${id}`, { body: '{}' }), 'get-instance')
    expect(h.sim.state.instance(id)?.state).toBe('running')
    expect((await h.call('PUT', `/instance/${id}:stop`)).status).toBe(200)
  })

  it('requires a body on :start ({} is enough)', async () => {
    const id = await runningInstance()
    await h.call('PUT', `/instance/${id}:stop`)
    await h.clock.advance(OP_DELAY + TRANSITION)
    await expect400(await h.call('PUT', `/instance/${id}:start`), 'start-instance')
    await expect400(
      await h.call('PUT', `/instance/${id}:start`, { body: { rescue: true } }),
      '"rescue"',
    )
    expect((await h.call('PUT', `/instance/${id}:start`, { body: {} })).status).toBe(200)
  })

  it('rejects unknown, repeated and invalid query parameters', async () => {
    await expect400(await h.call('GET', '/instance', { query: { zone: 'ch-gva-2' } }), '"zone"')
    await expect400(await h.call('GET', '/instance-type', { query: { family: 'gpu' } }), '"family"')
    await expect400(
      await h.call('GET', '/template', { query: { visibility: 'all' } }),
      'visibility',
    )
    await expect400(
      await h.call('GET', '/instance', { rawQuerySuffix: 'labels=a&labels=b' }),
      '"labels"',
    )
    await expect400(
      await h.call('GET', '/instance', { query: { 'manager-id': 'x' } }),
      'manager-id',
    )
  })

  it('rejects a path id that is not a UUID', async () => {
    await expect400(await h.call('GET', '/instance/exollama'), 'id')
  })

  it('answers 404 for unknown ids and endpoints, 405 for wrong methods, 501 for unsimulated operations', async () => {
    const missing = await h.call('GET', `/instance/${UUID}`)
    expect(missing.status).toBe(404)
    expect(missing.json.message).toMatch(/not found/)
    expect((await h.call('GET', `/operation/${UUID}`)).status).toBe(404)
    expect((await h.call('GET', '/instances')).status).toBe(404)
    expect((await h.call('PATCH', '/instance')).status).toBe(405)
    const dbaas = await h.call('GET', '/dbaas-service')
    expect(dbaas.status).toBe(501)
    expect(dbaas.json.message).toContain('list-dbaas-services')
    const noZone = await call(
      { ...h.target, endpoint: h.sim.endpoint.replace('/v2', '/xx-nope-1/v2') },
      'GET',
      '/instance',
    )
    expect(noZone.status).toBe(404)
  })
})

describe('referenced resources must exist', () => {
  it('answers 404 for an unknown template or instance type', async () => {
    const t = await createInstance(h.target, { template: { id: UUID } })
    expect(t.status).toBe(404)
    expect(t.json.message).toMatch(/Template .* not found/)
    const it2 = await createInstance(h.target, { 'instance-type': { id: UUID } })
    expect(it2.status).toBe(404)
    expect(it2.json.message).toMatch(/Instance type .* not found/)
    expect(h.sim.state.instances()).toEqual([])
  })

  it('answers 404 for a template of another zone (templates are zone-local)', async () => {
    const vie = await createBody(h.zone('at-vie-2'))
    const res = await h.call('POST', '/instance', { body: vie })
    expect(res.status).toBe(404)
  })

  it('answers 404 for an unknown security group or SSH key', async () => {
    const sg = await createInstance(h.target, { 'security-groups': [{ id: UUID }] })
    expect(sg.status).toBe(404)
    expect(sg.json.message).toMatch(/Security group/)
    const key = await createInstance(h.target, { 'ssh-keys': [{ name: 'nobody' }] })
    expect(key.status).toBe(404)
    expect(key.json.message).toMatch(/SSH key/)
  })

  it('answers 400 for an instance type that the zone does not offer', async () => {
    const res = await createInstance(h.target, {
      'instance-type': { id: await typeId(h.target, 'gpua5000.small') },
    })
    expect(res.status).toBe(400)
    expect(res.json.message).toBe('Instance type gpua5000.small is not available in zone ch-gva-2')
  })
})
