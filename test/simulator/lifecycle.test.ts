import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { systemClock } from '../../src/shared/index.js'
import {
  createSimulatorHandler,
  startSimulator,
  type InstanceEvent,
} from '../../src/simulator/index.js'
import { call } from './helpers/api.js'
import {
  OP_DELAY,
  TRANSITION,
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

async function opState(id: string, target = h.target): Promise<string> {
  const res = await call(target, 'GET', `/operation/${id}`)
  expect(res.status).toBe(200)
  return res.json.state as string
}

async function instanceState(id: string, target = h.target): Promise<string | number> {
  const res = await call(target, 'GET', `/instance/${id}`)
  return res.status === 200 ? (res.json.state as string) : res.status
}

async function running(): Promise<string> {
  const created = await createInstance(h.target)
  await h.clock.advance(OP_DELAY + TRANSITION)
  const id = created.json.reference.id as string
  expect(await instanceState(id)).toBe('running')
  return id
}

describe('create-instance', () => {
  it('answers a pending operation that references the new instance', async () => {
    const res = await createInstance(h.target)
    expect(res.status).toBe(200)
    expect(res.json).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      state: 'pending',
      reference: {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        link: `/v2/instance/${res.json.reference.id}`,
        command: 'get-instance',
      },
    })
    expect(res.json.id).not.toBe(res.json.reference.id)
  })

  it('goes pending → success while the instance is still starting, then running', async () => {
    const res = await createInstance(h.target)
    const opId = res.json.id as string
    const id = res.json.reference.id as string
    expect(await instanceState(id)).toBe('starting')
    await h.clock.advance(OP_DELAY - 1)
    expect(await opState(opId)).toBe('pending')
    await h.clock.advance(1)
    expect(await opState(opId)).toBe('success')
    expect(await instanceState(id)).toBe('starting')
    await h.clock.advance(TRANSITION - 1)
    expect(await instanceState(id)).toBe('starting')
    await h.clock.advance(1)
    expect(await instanceState(id)).toBe('running')
  })

  it('stores labels, user-data and the spec fields, and has no zone field', async () => {
    const res = await createInstance(h.target, { labels: { 'exollama-intent': 'i-1' } })
    const got = await h.call('GET', `/instance/${res.json.reference.id}`)
    expect(got.json.labels).toEqual({ 'exollama-intent': 'i-1' })
    expect(got.json['user-data']).toMatch(/^[A-Za-z0-9+/]+=*$/)
    expect(got.json['disk-size']).toBe(50)
    expect(got.json['instance-type']).toMatchObject({ family: 'standard', size: 'medium' })
    expect(got.json.template['default-user']).toBe('ubuntu')
    expect(got.json).not.toHaveProperty('zone')
  })

  it('gives each instance a unique loopback public IPv4 that is not 127.0.0.1', async () => {
    const ips = new Set<string>()
    for (let i = 0; i < 5; i++) {
      const res = await createInstance(h.target, { name: `i${i}` })
      const got = await h.call('GET', `/instance/${res.json.reference.id}`)
      const ip = got.json['public-ip'] as string
      expect(ip).toMatch(/^127\.\d+\.\d+\.\d+$/)
      expect(ip).not.toBe('127.0.0.1')
      ips.add(ip)
    }
    expect(ips.size).toBe(5)
  })

  it('has no public IP with public-ip-assignment none', async () => {
    const res = await createInstance(h.target, { 'public-ip-assignment': 'none' })
    const got = await h.call('GET', `/instance/${res.json.reference.id}`)
    expect(got.json).not.toHaveProperty('public-ip')
  })

  it('creates a stopped instance with auto-start false', async () => {
    const res = await createInstance(h.target, { 'auto-start': false })
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect(await opState(res.json.id)).toBe('success')
    expect(await instanceState(res.json.reference.id)).toBe('stopped')
  })
})

describe('start, stop, reboot, delete', () => {
  it('stops: running → stopping → (op success) → stopped', async () => {
    const id = await running()
    const stop = await h.call('PUT', `/instance/${id}:stop`)
    expect(stop.status).toBe(200)
    expect(await instanceState(id)).toBe('stopping')
    await h.clock.advance(OP_DELAY)
    expect(await opState(stop.json.id)).toBe('success')
    expect(await instanceState(id)).toBe('stopping')
    await h.clock.advance(TRANSITION)
    expect(await instanceState(id)).toBe('stopped')
  })

  it('keeps the public IP across stop and start', async () => {
    const id = await running()
    const ip = (await h.call('GET', `/instance/${id}`)).json['public-ip']
    await h.call('PUT', `/instance/${id}:stop`)
    await h.clock.advance(OP_DELAY + TRANSITION)
    const start = await h.call('PUT', `/instance/${id}:start`, { body: {} })
    expect(start.status).toBe(200)
    expect(await instanceState(id)).toBe('starting')
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect(await instanceState(id)).toBe('running')
    expect((await h.call('GET', `/instance/${id}`)).json['public-ip']).toBe(ip)
  })

  it('refuses to start a running instance, or stop a stopped one, with 409', async () => {
    const id = await running()
    const start = await h.call('PUT', `/instance/${id}:start`, { body: {} })
    expect(start.status).toBe(409)
    expect(start.json.message).toMatch(/running/)
    await h.call('PUT', `/instance/${id}:stop`)
    expect((await h.call('PUT', `/instance/${id}:stop`)).status).toBe(409)
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect((await h.call('PUT', `/instance/${id}:stop`)).status).toBe(409)
    expect((await h.call('PUT', `/instance/${id}:reboot`)).status).toBe(409)
  })

  it('deletes: destroying, then gone (404) after the operation and the transition', async () => {
    const id = await running()
    const del = await h.call('DELETE', `/instance/${id}`)
    expect(del.status).toBe(200)
    expect(await instanceState(id)).toBe('destroying')
    expect((await h.call('DELETE', `/instance/${id}`)).status).toBe(409)
    await h.clock.advance(OP_DELAY)
    expect(await opState(del.json.id)).toBe('success')
    await h.clock.advance(TRANSITION)
    expect(await instanceState(id)).toBe(404)
    expect((await h.call('GET', '/instance')).json.instances).toEqual([])
    expect((await h.call('DELETE', `/instance/${id}`)).status).toBe(404)
  })

  it('can delete an instance that is still starting; it never becomes running', async () => {
    const res = await createInstance(h.target)
    const id = res.json.reference.id as string
    expect((await h.call('DELETE', `/instance/${id}`)).status).toBe(200)
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect(await instanceState(id)).toBe(404)
  })

  it('refuses to delete a protected instance until protection is removed', async () => {
    const id = await running()
    await h.call('PUT', `/instance/${id}:add-protection`)
    const del = await h.call('DELETE', `/instance/${id}`)
    expect(del.status).toBe(409)
    expect(del.json.message).toMatch(/protected/)
    await h.call('PUT', `/instance/${id}:remove-protection`)
    expect((await h.call('DELETE', `/instance/${id}`)).status).toBe(200)
  })

  it('scales only stopped instances, within a family; grows disks only', async () => {
    const id = await running()
    const large = await typeId(h.target, 'standard.large')
    expect(
      (await h.call('PUT', `/instance/${id}:scale`, { body: { 'instance-type': { id: large } } }))
        .status,
    ).toBe(409)
    await h.call('PUT', `/instance/${id}:stop`)
    await h.clock.advance(OP_DELAY + TRANSITION)
    const gpu = await typeId(h.target, 'gpua30.small')
    expect(
      (await h.call('PUT', `/instance/${id}:scale`, { body: { 'instance-type': { id: gpu } } }))
        .status,
    ).toBe(400)
    expect(
      (await h.call('PUT', `/instance/${id}:scale`, { body: { 'instance-type': { id: large } } }))
        .status,
    ).toBe(200)
    expect(
      (await h.call('PUT', `/instance/${id}:resize-disk`, { body: { 'disk-size': 50 } })).status,
    ).toBe(400)
    expect(
      (await h.call('PUT', `/instance/${id}:resize-disk`, { body: { 'disk-size': 80 } })).status,
    ).toBe(200)
    await h.clock.advance(OP_DELAY)
    const got = (await h.call('GET', `/instance/${id}`)).json
    expect(got['instance-type'].size).toBe('large')
    expect(got['disk-size']).toBe(80)
  })

  it('updates labels and name, and resets labels', async () => {
    const id = await running()
    expect(
      (await h.call('PUT', `/instance/${id}`, { body: { name: 'n2', labels: { x: 'y' } } })).status,
    ).toBe(200)
    let got = (await h.call('GET', `/instance/${id}`)).json
    expect(got.name).toBe('n2')
    expect(got.labels).toEqual({ x: 'y' })
    await h.call('DELETE', `/instance/${id}/labels`)
    got = (await h.call('GET', `/instance/${id}`)).json
    expect(got.labels).toEqual({})
  })
})

describe('zones and listing', () => {
  it('keeps instances and operations zone-local', async () => {
    const vie = h.zone('at-vie-2')
    const res = await createInstance(vie)
    expect(res.status).toBe(200)
    const id = res.json.reference.id as string
    expect(await instanceState(id, vie)).toBe('starting')
    expect(await instanceState(id)).toBe(404)
    expect((await h.call('GET', `/operation/${res.json.id}`)).status).toBe(404)
    expect(await opState(res.json.id, vie)).toBe('pending')
    expect((await h.call('GET', '/instance')).json.instances).toEqual([])
    expect((await call(vie, 'GET', '/instance')).json.instances).toHaveLength(1)
    expect(h.sim.state.instances('at-vie-2').map((i) => i.id)).toEqual([id])
    expect(h.sim.state.instances('ch-gva-2')).toEqual([])
  })

  it('serves the default zone under both /v2 and /ch-gva-2/v2', async () => {
    const res = await createInstance(h.target)
    const got = await call(h.zone('ch-gva-2'), 'GET', `/instance/${res.json.reference.id}`)
    expect(got.status).toBe(200)
  })

  it('filters list-instances by labels, and returns everything without a filter', async () => {
    await createInstance(h.target, {
      name: 'a',
      labels: { 'managed-by': 'exollama', 'exollama-name': 'a' },
    })
    await createInstance(h.target, {
      name: 'b',
      labels: { 'managed-by': 'exollama', 'exollama-name': 'b' },
    })
    await createInstance(h.target, { name: 'c', labels: { 'managed-by': 'someone-else' } })
    await createInstance(h.target, { name: 'd', labels: {} })
    const names = async (labels?: string) =>
      (
        (await h.call('GET', '/instance', labels ? { query: { labels } } : {})).json.instances as {
          name: string
        }[]
      )
        .map((i) => i.name)
        .sort()
    expect(await names()).toEqual(['a', 'b', 'c', 'd'])
    expect(await names('managed-by=exollama')).toEqual(['a', 'b'])
    expect(await names('managed-by=exollama exollama-name=b')).toEqual(['b'])
    expect(await names('{"exollama-name":"a"}')).toEqual(['a'])
    const list = (await h.call('GET', '/instance')).json.instances
    expect(list[0].labels).toBeDefined()
    expect(list[0]).not.toHaveProperty('zone')
    expect(list[0]).not.toHaveProperty('disk-size')
  })

  it('shares security groups across all zone prefixes', async () => {
    const created = await call(h.zone('de-fra-1'), 'POST', '/security-group', {
      body: { name: 'exollama-g' },
    })
    const id = created.json.reference.id as string
    for (const zone of ['at-vie-2', 'ch-gva-2', 'hr-zag-1'] as const) {
      const got = await call(h.zone(zone), 'GET', `/security-group/${id}`)
      expect(got.status).toBe(200)
      expect(got.json.name).toBe('exollama-g')
    }
    expect(h.sim.state.securityGroups().map((g) => g.name)).toEqual(['exollama-g'])
  })
})

describe('security groups', () => {
  it('returns rules with ids inside get-security-group; allows an egress rule', async () => {
    const sg = await h.call('POST', '/security-group', { body: { name: 'exollama-a' } })
    const id = sg.json.reference.id as string
    const ingress = {
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 11435,
      'end-port': 11435,
    }
    expect((await h.call('POST', `/security-group/${id}/rules`, { body: ingress })).status).toBe(
      200,
    )
    expect((await h.call('POST', `/security-group/${id}/rules`, { body: ingress })).status).toBe(
      409,
    )
    const egress = { 'flow-direction': 'egress', protocol: 'all', network: '0.0.0.0/0' }
    expect((await h.call('POST', `/security-group/${id}/rules`, { body: egress })).status).toBe(200)
    const got = await h.call('GET', `/security-group/${id}`)
    expect(got.json.rules).toEqual([
      { id: expect.any(String), ...ingress },
      { id: expect.any(String), ...egress },
    ])
  })

  it('rejects duplicate names, bad rules, and deleting a group in use', async () => {
    const sg = await h.call('POST', '/security-group', { body: { name: 'exollama-b' } })
    const id = sg.json.reference.id as string
    expect((await h.call('POST', '/security-group', { body: { name: 'exollama-b' } })).status).toBe(
      409,
    )
    const rule = (body: object) => h.call('POST', `/security-group/${id}/rules`, { body })
    const noPorts = await rule({
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
    })
    expect(noPorts.status).toBe(400)
    expect(noPorts.json.message).toMatch(/start-port/)
    const badCidr = await rule({
      'flow-direction': 'ingress',
      protocol: 'udp',
      network: '0.0.0.0',
      'start-port': 1,
      'end-port': 2,
    })
    expect(badCidr.status).toBe(400)
    expect(badCidr.json.message).toMatch(/network/)
    const created = await createInstance(h.target, { 'security-groups': [{ id }] })
    expect(created.status).toBe(200)
    const del = await h.call('DELETE', `/security-group/${id}`)
    expect(del.status).toBe(409)
    expect(del.json.message).toMatch(/in use/)
    await h.call('DELETE', `/instance/${created.json.reference.id}`)
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect((await h.call('DELETE', `/security-group/${id}`)).status).toBe(200)
    expect((await h.call('GET', `/security-group/${id}`)).status).toBe(404)
  })
})

describe('quotas and observers', () => {
  it('tracks instance and GPU usage in the quota list', async () => {
    const vie = h.zone('at-vie-2')
    const usage = async (resource: string) =>
      ((await h.call('GET', `/quota/${resource}`)).json as { usage: number }).usage
    await createInstance(h.target)
    const gpu = await createInstance(vie, {}, 'gpua5000.medium')
    expect(gpu.status).toBe(200)
    expect(await usage('instance')).toBe(2)
    expect(await usage('gpu')).toBe(2)
    expect(await usage('gpua5000')).toBe(2)
    await call(vie, 'DELETE', `/instance/${gpu.json.reference.id}`)
    await h.clock.advance(OP_DELAY + TRANSITION)
    expect(await usage('gpua5000')).toBe(0)
    expect(await usage('instance')).toBe(1)
    expect((await h.call('GET', '/quota/nonsense')).status).toBe(404)
  })

  it('reports instance events in order and lets the VM power itself off', async () => {
    const events: string[] = []
    h.sim.onInstanceEvent((e: InstanceEvent) => events.push(`${e.type}:${e.instance.state}`))
    const id = await running()
    expect(h.sim.powerOff(id)).toBe(true)
    expect(await instanceState(id)).toBe('stopped')
    expect(h.sim.powerOff(id)).toBe(false)
    expect(events).toEqual(['created:starting', 'state:running', 'state:stopped'])
  })

  it('forgets finished operations after the retention time, never pending ones', async () => {
    await h.sim.close()
    h = await startHarness({ operationRetentionMs: 60_000 })
    const first = await createInstance(h.target)
    h.sim.faults.slowOperations(Infinity)
    const stuck = await createInstance(h.target, { name: 'stuck' })
    await h.clock.advance(OP_DELAY + 60_001)
    expect(await opState(first.json.id)).toBe('success')
    await createInstance(h.target, { name: 'trigger' })
    expect((await h.call('GET', `/operation/${first.json.id}`)).status).toBe(404)
    expect(await opState(stuck.json.id)).toBe('pending')
  })

  it('keeps at most maxRecordedRequests requests', async () => {
    await h.sim.close()
    h = await startHarness({ maxRecordedRequests: 3 })
    for (let i = 0; i < 5; i++) await h.call('GET', '/quota')
    await h.call('GET', '/zone')
    expect(h.sim.requests.map((r) => r.operationId)).toEqual([
      'list-quotas',
      'list-quotas',
      'list-zones',
    ])
  })

  it('logs every request with zone, operation id and status', async () => {
    await h.call('GET', '/instance')
    await call(h.zone('de-fra-1'), 'GET', '/template', { query: { visibility: 'public' } })
    expect(h.sim.requests.map((r) => [r.method, r.path, r.zone, r.operationId, r.status])).toEqual([
      ['GET', '/instance', 'ch-gva-2', 'list-instances', 200],
      ['GET', '/template', 'de-fra-1', 'list-templates', 200],
    ])
    h.sim.clearRequests()
    expect(h.sim.requests).toEqual([])
  })
})

describe('real time', () => {
  it('runs on the system clock with small delays', async () => {
    const sim = await startSimulator({ operationDelayMs: 5, instanceTransitionMs: 5 })
    try {
      const target = { endpoint: sim.endpoint, credentials: sim.credentials, clock: systemClock }
      // Subscribed before the create, so the running event cannot be missed.
      const reached = new Promise<string>((resolve) => {
        sim.onInstanceEvent((e) => {
          if (e.instance.state === 'running') resolve(e.instance.id)
        })
      })
      const res = await createInstance(target)
      expect(res.status).toBe(200)
      expect(await reached).toBe(res.json.reference.id)
      expect((await call(target, 'GET', `/operation/${res.json.id}`)).json.state).toBe('success')
      expect((await call(target, 'GET', `/instance/${res.json.reference.id}`)).json.state).toBe(
        'running',
      )
    } finally {
      await sim.close()
    }
  })
})

describe('createSimulatorHandler', () => {
  it('serves the same API when mounted in a caller-owned server', async () => {
    const { createServer } = await import('node:http')
    const core = createSimulatorHandler({ clock: systemClock })
    const server = createServer((req, res) => core.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const port = (server.address() as { port: number }).port
      const target = {
        endpoint: `http://127.0.0.1:${port}/de-fra-1/v2`,
        credentials: core.credentials,
        clock: systemClock,
      }
      expect((await call(target, 'GET', '/instance')).status).toBe(200)
      expect((await call(target, 'GET', '/instance', { auth: false })).status).toBe(403)
      expect(core.requests.map((r) => [r.zone, r.status])).toEqual([
        ['de-fra-1', 200],
        ['de-fra-1', 403],
      ])
    } finally {
      await core.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
