import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ExoscaleSpec } from '../../src/simulator/index.js'
import { ROUTES } from '../../src/simulator/routes.js'
import { call, type ApiResponse, type CallOptions } from './helpers/api.js'
import {
  OP_DELAY,
  TRANSITION,
  createInstance,
  startHarness,
  typeId,
  type SimHarness,
} from './helpers/setup.js'

/**
 * Every operation the simulator serves is called once here and its 200 answer is validated
 * against the spec's response schema, with closed objects (no field the spec lacks). The
 * simulator's own self-check is off, so this test is the check.
 */
const spec = ExoscaleSpec.load()
let h: SimHarness
const seen = new Map<string, ApiResponse>()
const problems: string[] = []

async function hit(method: string, path: string, options?: CallOptions): Promise<ApiResponse> {
  const res = await h.call(method, path, options)
  const op = h.sim.requests.at(-1)?.operationId ?? '?'
  expect(res.status, `${method} ${path}: ${res.text}`).toBe(200)
  const problem = spec.validateResponse(op, res.json)
  if (problem) problems.push(`${op}: ${problem}`)
  seen.set(op, res)
  return res
}

const SSH_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0c3Vy5m7uHcFqkYtTr6bqkWmPVXv6d3v7N8FJ0bQY test@example'

beforeAll(async () => {
  h = await startHarness({ selfCheck: false })
  const settle = () => h.clock.advance(OP_DELAY + TRANSITION)

  await hit('GET', '/zone', { auth: false })
  const types = await hit('GET', '/instance-type')
  await hit('GET', `/instance-type/${types.json['instance-types'][0].id}`)
  const templates = await hit('GET', '/template', { query: { visibility: 'public' } })
  await hit('GET', `/template/${templates.json.templates[0].id}`)
  await hit('GET', '/template', { query: { visibility: 'private', family: 'ubuntu' } })
  await hit('GET', '/quota')
  await hit('GET', '/quota/gpua5000')

  const key = await hit('POST', '/ssh-key', {
    body: { name: 'exollama-key', 'public-key': SSH_KEY },
  })
  await hit('GET', `/operation/${key.json.id}`)
  await hit('GET', '/ssh-key')
  await hit('GET', '/ssh-key/exollama-key')

  const sgOp = await hit('POST', '/security-group', {
    body: { name: 'exollama-test', description: 'd' },
  })
  const sgId = sgOp.json.reference.id as string
  await hit('POST', `/security-group/${sgId}/rules`, {
    body: {
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 11435,
      'end-port': 11435,
      description: 'ollama',
    },
  })
  await hit('POST', `/security-group/${sgId}/rules`, {
    body: {
      'flow-direction': 'ingress',
      protocol: 'icmp',
      network: '::/0',
      icmp: { type: 8, code: 0 },
    },
  })
  await hit('POST', `/security-group/${sgId}/rules`, {
    body: {
      'flow-direction': 'ingress',
      protocol: 'tcp',
      'security-group': { id: sgId },
      'start-port': 1,
      'end-port': 65535,
    },
  })
  await hit('PUT', `/security-group/${sgId}:add-source`, { body: { cidr: '10.0.0.0/8' } })
  const sg = await hit('GET', `/security-group/${sgId}`)
  await hit('DELETE', `/security-group/${sgId}/rules/${sg.json.rules[1].id}`)
  await hit('PUT', `/security-group/${sgId}:remove-source`, { body: { cidr: '10.0.0.0/8' } })
  await hit('GET', '/security-group')
  await hit('GET', '/security-group', { query: { visibility: 'public' } })

  const created = await createInstance(h.target, {
    'security-groups': [{ id: sgId }],
    'ssh-keys': [{ name: 'exollama-key' }],
    'public-ip-assignment': 'dual',
  })
  expect(created.status).toBe(200)
  seen.set('create-instance', created)
  const create = spec.validateResponse('create-instance', created.json)
  if (create) problems.push(`create-instance: ${create}`)
  const id = created.json.reference.id as string
  await settle()
  await hit('GET', `/instance/${id}`)
  await hit('GET', '/instance', { query: { labels: 'managed-by=exollama' } })
  await hit('GET', '/instance', { query: { 'ip-address': '127.10.0.2' } })
  await hit('PUT', `/instance/${id}`, { body: { name: 'renamed', labels: { a: 'b' } } })
  await hit('DELETE', `/instance/${id}/labels`)
  await hit('PUT', `/instance/${id}:reboot`)
  await settle()
  await hit('PUT', `/instance/${id}:stop`)
  await settle()
  await hit('PUT', `/instance/${id}:scale`, {
    body: { 'instance-type': { id: await typeId(h.target, 'standard.large') } },
  })
  await hit('PUT', `/instance/${id}:resize-disk`, { body: { 'disk-size': 60 } })
  await settle()
  await hit('PUT', `/instance/${id}:start`, { body: {} })
  await settle()
  await hit('PUT', `/instance/${id}:add-protection`)
  await hit('PUT', `/instance/${id}:remove-protection`)

  const sg2 = await hit('POST', '/security-group', { body: { name: 'exollama-extra' } })
  await hit('PUT', `/security-group/${sg2.json.reference.id}:attach`, {
    body: { instance: { id } },
  })
  await hit('PUT', `/security-group/${sg2.json.reference.id}:detach`, {
    body: { instance: { id } },
  })
  await hit('DELETE', `/security-group/${sg2.json.reference.id}`)

  await hit('DELETE', `/instance/${id}`)
  await hit('DELETE', '/ssh-key/exollama-key')
  await settle()
})

afterAll(async () => {
  await h.sim.close()
})

describe('responses match the spec', () => {
  it('validates every 200 answer against its response schema', () => {
    expect(problems).toEqual([])
  })

  it('covered every operation the simulator serves', () => {
    expect([...seen.keys()].sort()).toEqual(Object.keys(ROUTES).sort())
  })

  it('answers JSON with kebab-case keys and {id} references', () => {
    const instance = seen.get('get-instance')?.json
    const keys = JSON.stringify(instance).match(/"[a-zA-Z-]+":/g) ?? []
    expect(keys.filter((k) => /[A-Z_]/.test(k))).toEqual([])
    expect(instance['security-groups']).toEqual([{ id: expect.any(String) }])
    expect(instance).not.toHaveProperty('zone')
  })

  it('answers errors as {"message": ...} only', async () => {
    const res = await call(h.target, 'GET', '/instance/3fa85f64-5717-4562-b3fc-2c963f66afa6')
    expect(res.status).toBe(404)
    expect(res.json).toEqual({ message: expect.stringMatching(/not found/) })
  })
})

describe('self-check', () => {
  it('is on by default: an answer the spec rejects becomes a 500 naming the problem', async () => {
    const strict = await startHarness()
    const spy = vi.spyOn(ExoscaleSpec.prototype, 'validateResponse').mockReturnValue('invalid x')
    try {
      const res = await strict.call('GET', '/quota')
      expect(res.status).toBe(500)
      expect(res.json.message).toBe('simulator bug: list-quotas answer is off-spec: invalid x')
      expect(spy).toHaveBeenCalledWith(
        'list-quotas',
        expect.objectContaining({ quotas: expect.any(Array) }),
      )
    } finally {
      spy.mockRestore()
      await strict.sim.close()
    }
  })
})
