/**
 * The Exoscale client against an Exoscale API: always the simulator, and real Exoscale when
 * EXOLLAMA_LIVE_TESTS=1 and EXOSCALE_API_KEY / EXOSCALE_API_SECRET are set (EXOSCALE_ZONE,
 * EXOSCALE_API_ENDPOINT, EXOSCALE_TEMPLATE are honoured). The live run labels every instance it
 * creates with `exollama-test-run=<id>`, names its security groups `exollama-test-<id>-…`
 * (security groups have no labels), and deletes all of it in afterAll.
 *
 * The shared contract runs on both; fault injection (retries, lost responses, failed
 * operations, quota, capacity) needs the simulator.
 */
import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createExoscaleClient,
  isExoscaleError,
  type ExoscaleClient,
  type ExoscaleClientOptions,
  type ExoscaleError,
  type Template,
} from '../../src/exoscale/index.js'
import { ManualClock, Secret } from '../../src/shared/index.js'
import { startSimulator, type Simulator } from '../../src/simulator/index.js'

const live =
  process.env.EXOLLAMA_LIVE_TESTS === '1' &&
  !!process.env.EXOSCALE_API_KEY &&
  !!process.env.EXOSCALE_API_SECRET

if (process.env.EXOLLAMA_LIVE_TESTS === '1' && !live) {
  console.warn(
    '\n*** EXOLLAMA_LIVE_TESTS=1 but EXOSCALE_API_KEY / EXOSCALE_API_SECRET are missing: live contract skipped ***\n',
  )
}

const UBUNTU = 'Linux Ubuntu 22.04 LTS 64-bit'

async function failure(p: Promise<unknown>): Promise<ExoscaleError> {
  try {
    await p
  } catch (e) {
    if (isExoscaleError(e)) return e
    throw e
  }
  throw new Error('expected the call to fail')
}

/** What the shared contract needs from a target API. */
interface Target {
  zone: string
  /** A client with working credentials (options override the defaults). */
  client(options?: Partial<ExoscaleClientOptions>): ExoscaleClient
  /** Labels every created instance carries. */
  runLabels: Record<string, string>
  /** Prefix of every created security group's name. */
  namePrefix: string
  instanceType: string
  template: string
  /** Per-test timeout. */
  timeoutMs: number
}

function newestNamed(templates: Template[], name: string): Template | undefined {
  return templates
    .filter((t) => t.name === name)
    .sort((a, b) => Date.parse(b['created-at'] ?? '') - Date.parse(a['created-at'] ?? ''))[0]
}

/** The behaviour every Exoscale API (simulated or real) must show to the client. */
function sharedContract(target: () => Target): void {
  const t = () => target()

  it('lists zones without credentials, including the configured one', async () => {
    const anonymous = t().client({ apiKey: 'EXOnobody', apiSecret: new Secret('wrong') })
    const zones = await anonymous.listZones()
    expect(zones.map((z) => z.name)).toContain(t().zone)
  })

  it('lists instance types and finds family.size (family defaulting to standard)', async () => {
    const c = t().client()
    const types = await c.listInstanceTypes()
    expect(types.length).toBeGreaterThan(5)
    const medium = await c.findInstanceType('standard.medium')
    expect(medium).toMatchObject({ family: 'standard', size: 'medium', authorized: true })
    expect(medium.cpus).toBeGreaterThan(0)
    expect(medium.memory).toBeGreaterThan(0)
    expect((await c.findInstanceType('medium')).id).toBe(medium.id)
    expect((await c.getInstanceType(medium.id ?? '')).id).toBe(medium.id)
    const e = await failure(c.findInstanceType('standard.nonexistent'))
    expect(e.code).toBe('exoscale_not_found')
    expect(e.message).toContain('standard.medium')
  })

  it('finds templates by name, newest created-at first, and lists the names on a miss', async () => {
    const c = t().client()
    const publicTemplates = await c.listTemplates({ visibility: 'public' })
    expect(publicTemplates.length).toBeGreaterThan(0)
    const found = await c.findTemplate(t().template)
    const expected =
      newestNamed(publicTemplates, t().template) ??
      newestNamed(await c.listTemplates({ visibility: 'private' }), t().template)
    expect(found.id).toBe(expected?.id)
    expect((await c.getTemplate(found.id ?? '')).name).toBe(t().template)
    // Every duplicated name resolves to its newest copy.
    const counts = new Map<string, number>()
    for (const tpl of publicTemplates)
      counts.set(tpl.name ?? '', (counts.get(tpl.name ?? '') ?? 0) + 1)
    for (const [name, n] of counts) {
      if (n < 2 || name === '') continue
      expect((await c.findTemplate(name)).id).toBe(newestNamed(publicTemplates, name)?.id)
    }
    const miss = await failure(c.findTemplate(`no such template ${randomBytes(4).toString('hex')}`))
    expect(miss.code).toBe('exoscale_not_found')
    expect(miss.message).toContain(JSON.stringify(t().template))
  })

  it('reads quotas', async () => {
    const c = t().client()
    const quotas = await c.listQuotas()
    const instance = quotas.find((q) => q.resource === 'instance')
    expect(instance?.limit).toBeDefined()
    expect((await c.getQuota('instance')).limit).toBe(instance?.limit)
  })

  it('creates a security group, adds and deletes a rule, deletes the group', async () => {
    const c = t().client()
    const name = `${t().namePrefix}sg-${randomBytes(3).toString('hex')}`
    const created = await c.waitForOperation(
      await c.createSecurityGroup({ name, description: 'exollama contract test' }),
    )
    const sgId = created.reference?.id ?? ''
    expect(sgId).not.toBe('')
    try {
      const sg = await c.getSecurityGroup(sgId)
      expect(sg).toMatchObject({ id: sgId, name, description: 'exollama contract test' })
      expect((await c.listSecurityGroups({ visibility: 'private' })).map((g) => g.id)).toContain(
        sgId,
      )
      await c.waitForOperation(
        await c.addSecurityGroupRule(sgId, {
          'flow-direction': 'ingress',
          protocol: 'tcp',
          network: '0.0.0.0/0',
          'start-port': 11435,
          'end-port': 11435,
          description: 'exollama gateway',
        }),
      )
      const rules = (await c.getSecurityGroup(sgId)).rules ?? []
      expect(rules).toHaveLength(1)
      expect(rules[0]).toMatchObject({
        'flow-direction': 'ingress',
        protocol: 'tcp',
        network: '0.0.0.0/0',
        'start-port': 11435,
        'end-port': 11435,
        description: 'exollama gateway',
      })
      await c.waitForOperation(await c.deleteSecurityGroupRule(sgId, rules[0]?.id ?? ''))
      expect((await c.getSecurityGroup(sgId)).rules ?? []).toHaveLength(0)
    } finally {
      await c.waitForOperation(await c.deleteSecurityGroup(sgId))
    }
    expect((await failure(c.getSecurityGroup(sgId))).code).toBe('exoscale_not_found')
  })

  it('runs an instance through create → running → stop → start → reboot → delete → gone', async () => {
    const c = t().client()
    const intent = randomBytes(6).toString('hex')
    const labels = { ...t().runLabels, 'exollama-intent': intent }
    const [type, template] = await Promise.all([
      c.findInstanceType(t().instanceType),
      c.findTemplate(t().template),
    ])
    const created = await c.waitForOperation(
      await c.createInstance({
        name: `${t().namePrefix}vm`,
        'instance-type': { id: type.id ?? '' },
        template: { id: template.id ?? '' },
        'disk-size': 10,
        labels,
        'user-data': Buffer.from('#cloud-config\n{}\n').toString('base64'),
      }),
    )
    const id = created.reference?.id ?? ''
    expect(id).not.toBe('')
    try {
      const running = await c.waitForInstanceState(id, ['running'])
      expect(running).toMatchObject({ id, state: 'running', labels })
      expect(running['instance-type']?.id).toBe(type.id)

      // Found by its labels, and only by the right ones.
      expect((await c.listInstances({ labels })).map((i) => i.id)).toEqual([id])
      expect(
        await c.listInstances({ labels: { ...labels, 'exollama-intent': `${intent}-other` } }),
      ).toEqual([])

      await c.waitForOperation(await c.stopInstance(id))
      expect((await c.waitForInstanceState(id, ['stopped'])).state).toBe('stopped')
      await c.waitForOperation(await c.startInstance(id))
      expect((await c.waitForInstanceState(id, ['running'])).state).toBe('running')
      await c.waitForOperation(await c.rebootInstance(id))
      expect((await c.waitForInstanceState(id, ['running'])).state).toBe('running')
    } finally {
      await c.waitForOperation(await c.deleteInstance(id))
    }
    await c.waitForInstanceGone(id)
    expect((await failure(c.getInstance(id))).code).toBe('exoscale_not_found')
    expect(await c.listInstances({ labels })).toEqual([])
  })

  it('maps bad credentials to exoscale_invalid_credentials', async () => {
    const bad = t().client({ apiSecret: new Secret('definitely-not-the-secret') })
    const e = await failure(bad.listInstances())
    expect(e.code).toBe('exoscale_invalid_credentials')
    expect(e.kind).toBe('config')
    expect(e.status).toBe(403)
    expect(e.message).toMatch(/EXOSCALE_API_KEY \/ EXOSCALE_API_SECRET/)
  })
}

describe('Exoscale client contract: simulator', () => {
  let sim: Simulator
  const zone = 'ch-gva-2'
  const runId = randomBytes(4).toString('hex')
  const clientFor = (z: string, options: Partial<ExoscaleClientOptions> = {}) =>
    createExoscaleClient({
      apiKey: sim.credentials.key,
      apiSecret: new Secret(sim.credentials.secret),
      zone: z,
      endpoint: sim.endpointFor(z as Parameters<Simulator['endpointFor']>[0]),
      pollIntervalMs: 10,
      retry: { baseDelayMs: 5, maxDelayMs: 40 },
      ...options,
    })
  const target: Target = {
    zone,
    client: (options) => clientFor(zone, options),
    runLabels: { 'exollama-test-run': runId },
    namePrefix: `exollama-test-${runId}-`,
    instanceType: 'standard.small',
    template: UBUNTU,
    timeoutMs: 30_000,
  }

  beforeAll(async () => {
    sim = await startSimulator({ operationDelayMs: 15, instanceTransitionMs: 15 })
  })
  afterEach(() => {
    sim.faults.clear()
  })
  afterAll(async () => {
    await sim?.close()
  })

  describe('shared contract', () => sharedContract(() => target))

  const count = (operationId: string, method?: string) =>
    sim.requests.filter(
      (r) => r.operationId === operationId && (method === undefined || r.method === method),
    )

  async function newInstance(
    c: ExoscaleClient,
    typeName = 'standard.small',
  ): Promise<{ intent: string; request: Parameters<ExoscaleClient['createInstance']>[0] }> {
    const [type, template] = await Promise.all([
      c.findInstanceType(typeName),
      c.findTemplate(UBUNTU),
    ])
    const intent = randomBytes(6).toString('hex')
    return {
      intent,
      request: {
        name: `exollama-test-${runId}`,
        'instance-type': { id: type.id ?? '' },
        template: { id: template.id ?? '' },
        'disk-size': 10,
        labels: { 'exollama-test-run': runId, 'exollama-intent': intent },
      },
    }
  }

  it('reports the GPU type authorized only in at-vie-2', async () => {
    const vie = clientFor('at-vie-2')
    const gpu = await vie.findInstanceType('gpua5000.small')
    expect(gpu).toMatchObject({ family: 'gpua5000', size: 'small', authorized: true })
    expect(gpu.gpus).toBeGreaterThan(0)
    const gva = clientFor('ch-gva-2')
    const listed = (await gva.listInstanceTypes()).find(
      (x) => x.family === 'gpua5000' && x.size === 'small',
    )
    expect(listed?.authorized).toBe(false)
    const e = await failure(gva.findInstanceType('gpua5000.small'))
    expect(e.code).toBe('exoscale_not_found')
    expect(e.message).toContain('at-vie-2')
    // Each zone's calls went to that zone's endpoint.
    expect(sim.requests.some((r) => r.rawPath === '/at-vie-2/v2/instance-type')).toBe(true)
  })

  it('sends what the spec wants: signed calls, {} to :start, no body to :stop, unsigned /zone', async () => {
    const c = target.client()
    const { request } = await newInstance(c)
    sim.clearRequests()
    const id = (await c.waitForOperation(await c.createInstance(request))).reference?.id ?? ''
    await c.waitForInstanceState(id, ['running'])
    await c.waitForOperation(await c.stopInstance(id))
    await c.waitForInstanceState(id, ['stopped'])
    await c.waitForOperation(await c.startInstance(id))
    await c.listZones()
    await c.waitForOperation(await c.deleteInstance(id))
    const [create] = count('create-instance')
    expect(create?.contentType).toBe('application/json')
    expect(JSON.parse(create?.body ?? '')).toEqual(request)
    const [stop] = count('stop-instance')
    expect(stop?.body).toBe('')
    expect(stop?.contentType).toBeUndefined()
    const [start] = count('start-instance')
    expect(start?.body).toBe('{}')
    expect(start?.contentType).toBe('application/json')
    const [del] = count('delete-instance')
    expect(del?.body).toBe('')
    const [zones] = count('list-zones')
    expect(zones?.signed).toBe(false)
    const others = sim.requests.filter((r) => r.operationId !== 'list-zones')
    expect(others.length).toBeGreaterThan(5)
    expect(others.every((r) => r.signed && r.status < 400)).toBe(true)
    expect(others.every((r) => r.rawPath.startsWith('/ch-gva-2/v2/'))).toBe(true)
  })

  it('retries a GET on 429 after Retry-After', async () => {
    const c = target.client()
    sim.faults.rateLimit({ retryAfter: 1, match: { operationId: 'list-quotas' } })
    sim.clearRequests()
    expect((await c.listQuotas()).length).toBeGreaterThan(0)
    const calls = count('list-quotas')
    expect(calls.map((r) => r.status)).toEqual([429, 200])
    // Lower bound only: the client waited at least what the server asked for.
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(990)
  })

  it('retries a GET on 503 and a PUT action on a reset connection', async () => {
    const c = target.client()
    sim.faults.serverError({ status: 503, times: 2, match: { operationId: 'list-instances' } })
    sim.clearRequests()
    await c.listInstances({ labels: { 'exollama-test-run': runId } })
    expect(count('list-instances').map((r) => r.status)).toEqual([503, 503, 200])

    const { request } = await newInstance(c)
    const id = (await c.waitForOperation(await c.createInstance(request))).reference?.id ?? ''
    await c.waitForInstanceState(id, ['running'])
    sim.faults.connectionReset({ when: 'before', match: { operationId: 'stop-instance' } })
    await c.waitForOperation(await c.stopInstance(id))
    expect(count('stop-instance').map((r) => r.status)).toEqual([0, 200])
    await c.waitForOperation(await c.deleteInstance(id))
  })

  it('gives up a GET after the attempts, with the status', async () => {
    const c = target.client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } })
    sim.faults.serverError({ status: 502, body: 'text', times: 10 })
    sim.clearRequests()
    const e = await failure(c.listQuotas())
    expect(e.code).toBe('exoscale_server_error')
    expect(e.status).toBe(502)
    expect(count('list-quotas')).toHaveLength(3)
  })

  it('NEVER retries the create POST: a lost 502 answer means one POST and an existing instance', async () => {
    const c = target.client()
    const { intent, request } = await newInstance(c)
    sim.faults.lostResponse({ status: 502, match: { operationId: 'create-instance' } })
    sim.clearRequests()
    const e = await failure(c.createInstance(request))
    expect(e.code).toBe('exoscale_server_error')
    expect(e.status).toBe(502)
    expect(count('create-instance', 'POST')).toHaveLength(1)
    // The provisioner's recovery: the intent label finds what the lost call created.
    const found = await c.listInstances({ labels: { 'exollama-intent': intent } })
    expect(found).toHaveLength(1)
    const id = found[0]?.id ?? ''
    await c.waitForInstanceState(id, ['running'])
    await c.waitForOperation(await c.deleteInstance(id))
    await c.waitForInstanceGone(id)
  })

  it('does not retry the create POST on a reset connection either', async () => {
    const c = target.client()
    const { request } = await newInstance(c)
    sim.faults.connectionReset({ when: 'before', match: { operationId: 'create-instance' } })
    sim.clearRequests()
    expect((await failure(c.createInstance(request))).code).toBe('exoscale_network')
    expect(count('create-instance', 'POST')).toHaveLength(1)
  })

  it('maps a failed operation to exoscale_operation_failed with the reason', async () => {
    const c = target.client()
    const { request } = await newInstance(c)
    sim.faults.failOperation({
      reason: 'fault',
      message: 'simulated hypervisor fault',
      match: { operationId: 'create-instance' },
    })
    const op = await c.createInstance(request)
    expect(op.state).toBe('pending')
    const e = await failure(c.waitForOperation(op))
    expect(e.code).toBe('exoscale_operation_failed')
    expect(e.kind).toBe('cloud')
    expect(e.operation).toMatchObject({ id: op.id, state: 'failure', reason: 'fault' })
    expect(e.message).toContain('reason fault: simulated hypervisor fault')
  })

  it('maps an exceeded quota to exoscale_quota_exceeded', async () => {
    const c = target.client()
    const { request } = await newInstance(c)
    sim.faults.quota('instance', 0)
    sim.clearRequests()
    const e = await failure(c.createInstance(request))
    expect(e.code).toBe('exoscale_quota_exceeded')
    expect(e.kind).toBe('config')
    expect(e.status).toBe(403)
    expect(e.apiMessage).toMatch(/Quota exceeded for resource instance/)
    expect(count('create-instance', 'POST')).toHaveLength(1)
  })

  it('maps missing capacity to exoscale_capacity_unavailable', async () => {
    const vie = clientFor('at-vie-2')
    const { request } = await newInstance(vie, 'gpua5000.small')
    sim.faults.capacity('gpua5000.small', { zone: 'at-vie-2' })
    const e = await failure(vie.waitForOperation(await vie.createInstance(request)))
    expect(e.code).toBe('exoscale_capacity_unavailable')
    expect(e.kind).toBe('cloud')
    expect(e.message).toContain('Insufficient capacity for gpua5000.small in at-vie-2')
  })

  it('times out a wait on a slow operation with exoscale_operation_timeout', async () => {
    const c = target.client()
    const { request } = await newInstance(c)
    sim.faults.slowOperations(Infinity, { match: { operationId: 'create-instance' } })
    const op = await c.createInstance(request)
    const e = await failure(c.waitForOperation(op, { timeoutMs: 150 }))
    expect(e.code).toBe('exoscale_operation_timeout')
    expect(e.kind).toBe('timeout')
    expect(e.operation?.id).toBe(op.id)
    expect(count('get-operation').some((r) => r.path === `/operation/${op.id}`)).toBe(true)
  })

  it('stops a wait when its signal aborts', async () => {
    const c = target.client()
    const { request } = await newInstance(c)
    const id = (await c.waitForOperation(await c.createInstance(request))).reference?.id ?? ''
    await c.waitForInstanceState(id, ['running'])
    const polls = () => sim.requests.filter((r) => r.path === `/instance/${id}`).length
    const controller = new AbortController()
    const before = polls()
    const wait = c.waitForInstanceState(id, ['stopped'], { signal: controller.signal })
    while (polls() < before + 2) await new Promise((r) => setTimeout(r, 5))
    controller.abort(new Error('gateway shutting down'))
    await expect(wait).rejects.toThrow('gateway shutting down')
    const after = polls()
    await new Promise((r) => setTimeout(r, 100))
    expect(polls()).toBe(after)
    await c.waitForOperation(await c.deleteInstance(id))
  })

  it('reports an expired signature (clock far behind) as invalid credentials', async () => {
    const behind = target.client({ clock: new ManualClock(Date.now() - 2 * 3600_000) })
    const e = await failure(behind.listInstances())
    expect(e.code).toBe('exoscale_invalid_credentials')
    expect(e.apiMessage).toMatch(/expired/)
    expect(e.message).toMatch(/clock/)
  })

  it('keeps the secret and the Authorization header out of errors from real transport failures', async () => {
    const sent: string[] = []
    const spying = (secret: string) =>
      target.client({
        apiSecret: new Secret(secret),
        fetch: (input, init) => {
          const auth = new Headers(init?.headers).get('authorization')
          if (auth) sent.push(auth)
          return fetch(input, init)
        },
      })
    const good = spying(sim.credentials.secret)
    const { request } = await newInstance(good)
    sim.faults.connectionReset({ when: 'before', match: { operationId: 'create-instance' } })
    const errors = [
      await failure(good.createInstance(request)),
      await failure(spying('wrong-secret-canary').listInstances()),
    ]
    sim.faults.serverError({ status: 503, times: 10 })
    errors.push(await failure(target.client({ retry: { maxAttempts: 2 } }).listQuotas()))
    expect(errors.map((e) => e.code)).toEqual([
      'exoscale_network',
      'exoscale_invalid_credentials',
      'exoscale_server_error',
    ])
    expect(sent.length).toBeGreaterThan(1)
    for (const e of errors) {
      for (const text of [
        String(e),
        e.stack ?? '',
        inspect(e, { depth: 30, showHidden: true }),
        JSON.stringify(e),
        JSON.stringify(e.cause ?? null),
      ]) {
        expect(text).not.toContain(sim.credentials.secret)
        expect(text).not.toContain('wrong-secret-canary')
        for (const auth of sent) expect(text).not.toContain(auth)
      }
    }
  })

  it('answers 404 for an unknown instance and operation', async () => {
    const c = target.client()
    const unknown = '00000000-0000-4000-8000-000000000000'
    expect((await failure(c.getInstance(unknown))).code).toBe('exoscale_not_found')
    expect((await failure(c.getOperation(unknown))).code).toBe('exoscale_not_found')
  })
})

describe.skipIf(!live)('Exoscale client contract: live Exoscale', () => {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
  const zone = process.env.EXOSCALE_ZONE || 'ch-gva-2'
  const endpoint = process.env.EXOSCALE_API_ENDPOINT || undefined
  const clientWith = (options: Partial<ExoscaleClientOptions> = {}) =>
    createExoscaleClient({
      apiKey: process.env.EXOSCALE_API_KEY ?? '',
      apiSecret: new Secret(process.env.EXOSCALE_API_SECRET ?? ''),
      zone,
      endpoint,
      ...options,
    })
  const target: Target = {
    zone,
    client: clientWith,
    runLabels: { 'exollama-test-run': runId },
    namePrefix: `exollama-test-${runId}-`,
    instanceType: 'standard.micro',
    template: process.env.EXOSCALE_TEMPLATE || UBUNTU,
    timeoutMs: 900_000,
  }

  // Sweep: everything this run created goes, whatever the tests did.
  afterAll(async () => {
    const c = clientWith()
    const problems: string[] = []
    for (const instance of await c.listInstances({ labels: { 'exollama-test-run': runId } })) {
      try {
        await c.waitForOperation(await c.deleteInstance(instance.id ?? ''), { timeoutMs: 600_000 })
        await c.waitForInstanceGone(instance.id ?? '', { timeoutMs: 600_000 })
      } catch (e) {
        if (!isExoscaleError(e, 'exoscale_not_found'))
          problems.push(`instance ${instance.id}: ${e}`)
      }
    }
    for (const sg of await c.listSecurityGroups({ visibility: 'private' })) {
      if (!sg.name?.startsWith(target.namePrefix)) continue
      try {
        await c.waitForOperation(await c.deleteSecurityGroup(sg.id ?? ''), { timeoutMs: 300_000 })
      } catch (e) {
        if (!isExoscaleError(e, 'exoscale_not_found'))
          problems.push(`security group ${sg.id}: ${e}`)
      }
    }
    if (problems.length > 0) throw new Error(`live sweep left resources: ${problems.join('; ')}`)
  }, 1_800_000)

  describe('shared contract', { timeout: target.timeoutMs }, () => sharedContract(() => target))
})
