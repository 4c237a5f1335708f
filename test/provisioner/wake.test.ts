import { afterEach, describe, expect, it } from 'vitest'
import type { ProvisionerProgress } from '../../src/provisioner/index.js'
import { Secret } from '../../src/shared/index.js'
import { systemTool } from '../helpers/system-deps.js'
import {
  eventually,
  liveInstances,
  startHarness,
  TEST_SETTINGS,
  type Harness,
} from './helpers/harness.js'

const BOOT_ORDER = [
  'booting',
  'packages',
  'docker',
  'image-pull',
  'ollama-start',
  'health',
  'ready',
]

/** Whether `seen` follows `order` (phases may be skipped by polling, never reordered). */
function isInOrder(seen: readonly string[], order: readonly string[]): boolean {
  let at = 0
  for (const phase of seen) {
    const i = order.indexOf(phase, at)
    if (i < 0) return false
    at = i
  }
  return true
}

const nginxBin = systemTool('nginx')

let h: Harness
afterEach(async () => {
  await h?.close()
})

describe('ensureReady: a cold start on the simulator', () => {
  it('creates one labelled instance with an intent written first, waits for the emulated VM, and reports every transition', async () => {
    h = await startHarness()
    // At the moment the simulator creates the instance, the intent must already be durable.
    const intentsAtCreate: { label: string | undefined; pending: boolean; secrets: boolean }[] = []
    h.sim.onInstanceEvent((e) => {
      if (e.type !== 'created') return
      const label = e.instance.labels['exollama-intent']
      const intent = label ? h.store.intents.get(label) : null
      intentsAtCreate.push({
        label,
        pending: intent?.state === 'pending',
        secrets: intent?.secrets !== null && intent?.secrets !== undefined,
      })
    })
    const p = h.provisioner()
    const progress: ProvisionerProgress[] = []
    const ready = await p.ensureReady({
      reason: { route: '/api/chat', keyId: 'k1' },
      onProgress: (x) => progress.push(x),
    })

    expect(h.calls('create-instance')).toBe(1)
    expect(intentsAtCreate).toEqual([{ label: expect.any(String), pending: true, secrets: true }])
    const [instance] = liveInstances(h.sim)
    expect(instance).toBeDefined()
    expect(instance?.labels).toEqual({
      'managed-by': 'exollama',
      'exollama-name': 'exollama',
      'exollama-intent': intentsAtCreate[0]?.label,
    })
    expect(instance?.name).toBe('exollama')
    expect(instance?.diskSize).toBe(50)

    // Newest template of the name wins (the catalog has three "Linux Ubuntu 22.04 LTS 64-bit").
    const templates = await h.client.listTemplates({ visibility: 'public' })
    const newest = templates
      .filter((t) => t.name === 'Linux Ubuntu 22.04 LTS 64-bit')
      .sort((a, b) => Date.parse(b['created-at'] ?? '') - Date.parse(a['created-at'] ?? ''))[0]
    expect(instance?.templateId).toBe(newest?.id)

    // The store holds the instance with the certificate its user-data carried: the one the
    // emulated VM's front door (real nginx where installed) presents.
    const record = h.store.instances.get('exollama')
    expect(record?.instanceId).toBe(instance?.id)
    expect(record?.state).toBe('ready')
    expect(record?.ollamaVersion).toBe('0.32.15')
    const vm = h.sim.vm.get(instance?.id ?? '')
    // Real nginx running the recipe's own config wherever nginx is installed.
    expect(vm?.proxy).toBe(nginxBin ? 'nginx' : 'standin')
    expect(vm?.certFingerprint).toBe(record?.tlsFingerprint)

    // Upstream: https://<ip>:11435, the pinned agent and the key nginx checks.
    expect(ready.origin).toBe(`https://${instance?.publicIp}:11435`)
    expect(ready.origin).toBe(vm?.origin)
    expect(ready.instance.id).toBe(instance?.id)
    const withKey = await ready.dispatcher.request({
      origin: ready.origin,
      path: '/api/tags',
      method: 'GET',
      headers: ready.headers,
    })
    expect(withKey.statusCode).toBe(200)
    expect(await withKey.body.json()).toMatchObject({ models: [{ name: 'qwen2.5:0.5b' }] })
    const withoutKey = await ready.dispatcher.request({
      origin: ready.origin,
      path: '/api/tags',
      method: 'GET',
    })
    expect(withoutKey.statusCode).toBe(401)
    await withoutKey.body.dump()

    // Ollama behind nginx saw the version check and the pull (never the key).
    const seen = vm?.ollama?.requests ?? []
    expect(seen.map((r) => r.url)).toEqual(expect.arrayContaining(['/api/version', '/api/pull']))
    expect(seen.every((r) => r.headers['x-ollama-key'] === undefined)).toBe(true)
    // Ours streams progress (the VM's own best-effort preload asks with stream:false).
    const pulls = seen
      .filter((r) => r.url === '/api/pull')
      .map((r) => JSON.parse(r.body) as unknown)
    expect(pulls).toContainEqual({ model: 'qwen2.5:0.5b', stream: true })

    // Transitions in order, each with its duration and the reason.
    const transitions = h
      .events()
      .filter((e) => e.data && 'to' in e.data)
      .map((e) => `${String(e.data?.from)}>${String(e.data?.to)}`)
    expect(transitions).toEqual(['absent>provisioning', 'provisioning>booting', 'booting>ready'])
    const wake = h.events().find((e) => e.type === 'wake')
    expect(wake?.reason).toBe('request /api/chat')
    expect(wake?.actor).toBe('key k1')
    const readyEvent = h.events().find((e) => e.type === 'ready')
    expect(readyEvent?.durationMs).toBeGreaterThan(0)
    expect(readyEvent?.reason).toBe('request /api/chat')
    // The VM's boot phases, as polled: in the recipe's order, ending at ready.
    const bootPhases = h
      .events()
      .filter((e) => e.type === 'boot')
      .map((e) => e.phase ?? '')
    expect(isInOrder(bootPhases, BOOT_ORDER)).toBe(true)
    expect(bootPhases.length).toBeGreaterThanOrEqual(4)
    expect(bootPhases.at(-1)).toBe('ready')
    expect(h.events().some((e) => e.type === 'pull' && e.data?.model === 'qwen2.5:0.5b')).toBe(true)

    // Progress: phases in order, boot percent, pull bytes.
    const phases = progress.filter((x) => x.kind === 'phase').map((x) => x.phase)
    expect(phases[0]).toBe('provisioning')
    expect(phases).toContain('booting')
    expect(phases.indexOf('pulling-model')).toBeGreaterThan(phases.indexOf('booting'))
    expect(phases.at(-1)).toBe('ready')
    expect(
      progress.some((x) => x.kind === 'phase' && x.boot !== undefined && x.boot.percent > 0),
    ).toBe(true)
    const pullProgress = progress.filter((x) => x.kind === 'pull')
    expect(
      pullProgress.some(
        (x) => x.kind === 'pull' && x.total !== undefined && x.completed === x.total,
      ),
    ).toBe(true)

    // The security group: exactly one ingress rule, TCP 11435 from 0.0.0.0/0, no egress.
    const groups = h.sim.state.securityGroups().filter((g) => g.name === 'exollama-exollama')
    expect(groups).toHaveLength(1)
    expect(instance?.securityGroupIds).toEqual([groups[0]?.id])
    expect(
      groups[0]?.rules.map((r) => ({
        dir: r.flowDirection,
        proto: r.protocol,
        net: r.network,
        from: r.startPort,
        to: r.endPort,
      })),
    ).toEqual([{ dir: 'ingress', proto: 'tcp', net: '0.0.0.0/0', from: 11435, to: 11435 }])

    // A second call is served from memory: no new cloud call.
    const before = h.sim.requests.length
    const again = await p.ensureReady()
    expect(again.origin).toBe(ready.origin)
    expect(h.sim.requests.length).toBe(before)
  })

  it('serves every concurrent caller from one wake, and a caller that gives up does not cancel it', async () => {
    h = await startHarness()
    const p = h.provisioner()
    const quitter = new AbortController()
    const waits = Array.from({ length: 5 }, (_, i) =>
      p.ensureReady({ reason: `caller ${i}`, ...(i === 0 ? { signal: quitter.signal } : {}) }),
    )
    quitter.abort(new Error('client went away'))
    await expect(waits[0]).rejects.toThrow('client went away')
    const results = await Promise.all(waits.slice(1))
    expect(new Set(results.map((r) => r.instance.id)).size).toBe(1)
    expect(h.calls('create-instance')).toBe(1)
    expect(h.events().filter((e) => e.type === 'wake')).toHaveLength(1)
    expect(p.state()).toBe('ready')
  })

  it('status() reports the full status object from the cloud, the instance models and the costs', async () => {
    h = await startHarness()
    const p = h.provisioner({ simulated: true })
    const absent = await p.status()
    expect(absent).toEqual({
      state: 'absent',
      simulated: true,
      instance: null,
      idle: { timeout_s: 1800, remaining_s: null, action: 'destroy' },
      models: [],
      cost: { currency: 'CHF', session: null, month: expect.any(Number) },
    })
    await p.ensureReady()
    const status = await p.status()
    const [instance] = liveInstances(h.sim)
    expect(status.state).toBe('ready')
    expect(status.instance).toEqual({
      id: instance?.id,
      name: 'exollama',
      zone: 'ch-gva-2',
      type: 'standard.medium',
      ip: instance?.publicIp,
      created_at: instance?.createdAt,
    })
    expect(status.models).toEqual(['qwen2.5:0.5b'])
    expect(status.idle.remaining_s).toBeGreaterThan(1790)
    expect(status.idle.remaining_s).toBeLessThanOrEqual(1800)
    expect(typeof status.cost.session).toBe('number')
    expect(typeof status.cost.month).toBe('number')
    expect(h.store.usage.openSessions().map((s) => s.instanceId)).toEqual([instance?.id])
  })

  it('uses EXOSCALE_OLLAMA_KEY instead of a random key when it is set', async () => {
    h = await startHarness()
    const key = 'MyOwnKey_0123456789abcdefXYZ'
    const p = h.provisioner({ settings: { ...TEST_SETTINGS, ollamaKey: new Secret(key) } })
    const ready = await p.ensureReady()
    expect(ready.headers['X-Ollama-Key']).toBe(key)
    // The instance's nginx accepts exactly that key.
    const answer = await ready.dispatcher.request({
      origin: ready.origin,
      path: '/api/version',
      method: 'GET',
      headers: { Authorization: `Bearer ${key}` },
    })
    expect(answer.statusCode).toBe(200)
    await answer.body.dump()
  })

  it('starts a stopped instance instead of creating one, and stop() keeps the disk', async () => {
    h = await startHarness()
    const p = h.provisioner()
    const first = await p.ensureReady()
    const stopped = await p.stop({ actor: 'test' })
    expect(stopped.state).toBe('stopped')
    expect(h.sim.state.instance(first.instance.id)?.state).toBe('stopped')
    expect(h.store.usage.openSessions()).toEqual([])
    // A real stop/start takes seconds; here it would fit in the second of the last boot write,
    // and boot statuses carry whole seconds. Start in a later second, as a real one would.
    await new Promise((r) => setTimeout(r, 1_000 - (Date.now() % 1_000) + 5))
    const again = await p.ensureReady({ reason: 'second' })
    expect(again.instance.id).toBe(first.instance.id)
    // Ready means THIS boot said so: the disk's `ready` from the first boot is not trusted.
    const vm = h.sim.vm.get(first.instance.id)
    expect(vm?.boots).toBe(2)
    expect(vm?.statusBoot).toBe(2)
    const tags = await again.dispatcher.request({
      origin: again.origin,
      path: '/api/tags',
      method: 'GET',
      headers: again.headers,
    })
    expect(tags.statusCode).toBe(200)
    await tags.body.dump()
    expect(h.calls('create-instance')).toBe(1)
    expect(h.calls('start-instance')).toBe(1)
    const startBody = h.sim.requests.find((r) => r.operationId === 'start-instance')?.body
    expect(startBody).toBe('{}')
    expect(h.events().some((e) => e.type === 'start')).toBe(true)
  })

  it('keeps the security group rules in step with EXOLLAMA_ALLOWED_CIDRS', async () => {
    h = await startHarness()
    const p = h.provisioner()
    await p.ensureReady()
    await p.updateSettings({
      ...TEST_SETTINGS,
      allowedCidrs: ['203.0.113.0/24', '198.51.100.7/32'],
    })
    const rules = () =>
      h.sim.state
        .securityGroups()
        .find((g) => g.name === 'exollama-exollama')
        ?.rules.map(
          (r) => `${r.flowDirection} ${r.protocol} ${r.network} ${r.startPort}-${r.endPort}`,
        )
        .sort()
    expect(rules()).toEqual([
      'ingress tcp 198.51.100.7/32 11435-11435',
      'ingress tcp 203.0.113.0/24 11435-11435',
    ])
    await p.updateSettings({ ...TEST_SETTINGS, allowedCidrs: ['0.0.0.0/0'] })
    expect(rules()).toEqual(['ingress tcp 0.0.0.0/0 11435-11435'])
  })

  it('refuses an Ollama older than EXOLLAMA_MIN_OLLAMA_VERSION and destroys that instance', async () => {
    h = await startHarness()
    h.sim.vm.faults.ollamaVersion('0.12.6')
    const p = h.provisioner()
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'vm_ollama_too_old', kind: 'config' })
    expect((error as Error).message).toContain('EXOLLAMA_OLLAMA_IMAGE_TAG')
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.store.instances.get('exollama')).toBeNull()
    expect(p.state()).toBe('error')
    expect((await p.status()).error?.code).toBe('vm_ollama_too_old')
  })

  it('re-provisions after destroy (the state never sticks at ready)', async () => {
    h = await startHarness()
    const p = h.provisioner()
    const first = await p.ensureReady()
    const after = await p.destroy({ actor: 'test' })
    expect(after.state).toBe('absent')
    expect(after.instance).toBeNull()
    expect(liveInstances(h.sim)).toEqual([])
    const second = await p.ensureReady()
    expect(second.instance.id).not.toBe(first.instance.id)
    expect(h.calls('create-instance')).toBe(2)
  })

  it('shows the VM’s boot progress while booting, and destroy() during a wake cancels it cleanly', async () => {
    h = await startHarness()
    h.sim.vm.faults.slowBoot('image-pull', Infinity)
    const p = h.provisioner()
    const wake = p.ensureReady().catch((e: unknown) => e)
    await eventually(() => p.progress()?.boot?.phase === 'image-pull', 'boot progress')
    const booting = await p.status()
    expect(booting.state).toBe('booting')
    expect(booting.boot).toEqual({
      state: 'running',
      phase: 'image-pull',
      percent: 30,
      error: null,
      gpu: false,
    })
    expect(p.progress()).toMatchObject({ state: 'booting', phase: 'booting' })

    const after = await p.destroy({ actor: 'test' })
    expect(await wake).toMatchObject({ code: 'wake_aborted' })
    expect(after).toMatchObject({ state: 'absent', instance: null })
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.calls('delete-instance')).toBe(1)
    expect(h.store.instances.get('exollama')).toBeNull()
  })
})
