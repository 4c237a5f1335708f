import net from 'node:net'
import { gzipSync } from 'node:zlib'
import { parseDocument } from 'yaml'
import { afterEach, describe, expect, it } from 'vitest'
import { BOOT_PHASES, parseBootStatus, VM_PATHS } from '../../src/recipe/index.js'
import { ManualClock, systemClock } from '../../src/shared/index.js'
import {
  DEFAULT_PHASE_MS,
  startSimulator,
  VM_BOOT_PHASES,
  type Simulator,
  type VmBootStatus,
  type VmInfo,
} from '../../src/simulator/index.js'
import { call, type ApiTarget } from './helpers/api.js'
import {
  causeCode,
  createWith,
  driveUntil,
  failure,
  instanceClient,
  isReady,
  recipe,
  startVmSim,
  type Recipe,
} from './helpers/vm.js'

/**
 * The boot as a status poll sees it, on the simulator's ManualClock (time moves only when the
 * test says so; nginx and file writes run on real time in between): phases in the recipe's
 * order and percents, the key required all along, 503 before the first write, and the faults
 * that make a boot fail or hang.
 */

const sims: Simulator[] = []
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()))
})

async function manualSim(vm: Parameters<typeof startSimulator>[0] = {}) {
  const clock = new ManualClock(Date.now())
  const sim = await startSimulator({ clock, ...vm, vm: { watchdog: false, ...vm.vm } })
  sims.push(sim)
  const target: ApiTarget = { endpoint: sim.endpoint, credentials: sim.credentials, clock }
  return { clock, sim, target }
}

const line = (s: VmBootStatus) => `${s.state} ${s.phase} ${s.percent}`

describe('a cold start', () => {
  it('walks the recipe phases (key required, 503 before the first write) to ready in simulated seconds', async () => {
    const { clock, sim, target } = await manualSim()
    const r = await recipe()
    const stateAt = new Map<string, number>()
    sim.onInstanceEvent((e) => {
      if (!stateAt.has(e.instance.state)) stateAt.set(e.instance.state, clock.now())
    })
    let readyAt: number | undefined
    sim.vm.on((e) => {
      if (e.status?.state === 'ready') readyAt ??= clock.now()
    })
    const t0 = clock.now()
    const id = await createWith(target, r.userData)

    // Provisioning: the API says "starting" for the operation plus the transition.
    await clock.advance(299)
    expect((await call(target, 'GET', `/instance/${id}`)).json.state).toBe('starting')

    // nginx is up before the boot script's first write: 503 {"error":"booting"}, key required.
    let vm = await driveUntil(sim, clock, id, (v) => v.proxy !== undefined, 10)
    const c = instanceClient(vm, r)
    try {
      expect(vm.bootStatus).toBeUndefined()
      const early = await c.get('/exollama/boot')
      expect(early.statusCode).toBe(503)
      expect(early.headers['content-type']).toBe('application/json')
      expect(await early.body.json()).toEqual({ error: 'booting' })
      const anonymous = await c.get('/exollama/boot', {})
      expect(anonymous.statusCode).toBe(401)
      await anonymous.body.dump()

      // Every phase, as a poll sees it; the key is required at each.
      const seen: string[] = []
      for (const phase of [
        'booting',
        'packages',
        'docker',
        'image-pull',
        'ollama-start',
        'health',
        'ready',
      ]) {
        vm = await driveUntil(sim, clock, id, (v) => v.bootStatus?.phase === phase, 10)
        const res = await c.get('/exollama/boot')
        expect(res.statusCode).toBe(200)
        const body = parseBootStatus(await res.body.json())
        expect(body).toEqual(vm.bootStatus)
        seen.push(line(body as VmBootStatus))
        const noKey = await c.get('/exollama/boot', { 'x-ollama-key': 'nope-nope-nope-nope' })
        expect(noKey.statusCode).toBe(401)
        expect(await noKey.body.json()).toEqual({ error: 'unauthorized' })
      }
      expect(seen).toEqual([
        'running booting 0',
        'running packages 5',
        'running docker 15',
        'running image-pull 30',
        'running ollama-start 85',
        'running health 92',
        'ready ready 100',
      ])
      // Ready means Ollama answers through nginx.
      expect(
        (await c.ollama().chat({ model: 'qwen2.5:0.5b', messages: [], stream: false })).done,
      ).toBe(true)
    } finally {
      await c.close()
    }

    // Simulated time (the ManualClock), so these are facts of the defaults, not of this machine.
    const running = stateAt.get('running') as number
    const provisioningMs = running - t0
    const bootingMs = (readyAt as number) - running
    console.log(`simulated cold start: provisioning ${provisioningMs} ms, booting ${bootingMs} ms`)
    expect(provisioningMs).toBeGreaterThanOrEqual(300)
    expect(bootingMs).toBeGreaterThanOrEqual(300)
    expect((readyAt as number) - t0).toBeLessThan(120_000)
  })

  it('keeps each of provisioning and booting visible for at least 0.3 s with the defaults', () => {
    // API: operation 250 ms + transition 750 ms; VM: the sum of the first-boot steps.
    const booting =
      DEFAULT_PHASE_MS.firstWrite +
      DEFAULT_PHASE_MS.booting +
      DEFAULT_PHASE_MS.packages +
      DEFAULT_PHASE_MS.docker +
      DEFAULT_PHASE_MS['image-pull'] +
      DEFAULT_PHASE_MS['ollama-start'] +
      DEFAULT_PHASE_MS.health
    expect(booting).toBeGreaterThanOrEqual(300)
    expect(booting + DEFAULT_PHASE_MS['gpu-driver'] + DEFAULT_PHASE_MS.reboot).toBeLessThan(60_000)
    const later =
      DEFAULT_PHASE_MS.firstWrite + DEFAULT_PHASE_MS['ollama-start'] + DEFAULT_PHASE_MS.health
    expect(later).toBeGreaterThanOrEqual(300)
  })

  it('uses the boot phases and status format of the recipe', () => {
    expect([...VM_BOOT_PHASES]).toEqual([...BOOT_PHASES])
  })

  it('reaches ready from create on the system clock with the default timings', async () => {
    const sim = await startSimulator({ vm: { watchdog: false } })
    sims.push(sim)
    const target: ApiTarget = {
      endpoint: sim.endpoint,
      credentials: sim.credentials,
      clock: systemClock,
    }
    const r = await recipe()
    const started = Date.now()
    const id = await createWith(target, r.userData)
    const vm = await sim.vm.waitFor(id, (v) => isReady(v) || v.bootStatus?.state === 'failed')
    console.log(`cold start with the defaults on the system clock: ${Date.now() - started} ms`)
    expect(vm.bootStatus?.state).toBe('ready')
    expect(vm.history.map(line)).toEqual([
      'running booting 0',
      'running packages 5',
      'running docker 15',
      'running image-pull 30',
      'running ollama-start 85',
      'running health 92',
      'ready ready 100',
    ])
  })
})

describe('GPU instances', () => {
  it('install the driver, reboot (nginx down meanwhile) and resume, as the recipe does', async () => {
    const { clock, sim, target } = await manualSim()
    const r = await recipe({ gpu: true })
    const zone: ApiTarget = { ...target, endpoint: sim.endpointFor('de-fra-1') }
    const id = await createWith(zone, r.userData, 'gpu3.small')
    const events: string[] = []
    sim.vm.on((e) => {
      if (e.instanceId === id && (e.type === 'proxy-up' || e.type === 'proxy-down'))
        events.push(e.type)
      if (e.instanceId === id && e.status) events.push(line(e.status))
    })
    // The reboot: after the second gpu-driver write, nginx goes down.
    let vm = await driveUntil(
      sim,
      clock,
      id,
      (v) => v.history.length >= 5 && v.proxy === undefined,
      20,
    )
    const c = instanceClient({ ...vm, origin: `https://${vm.ip}:11435` } as VmInfo, r)
    try {
      expect(causeCode(await failure(c.get('/exollama/boot')))).toBe('ECONNREFUSED')
    } finally {
      await c.close()
    }
    vm = await driveUntil(sim, clock, id, (v) => isReady(v), 20)
    expect(vm.bootStatus).toMatchObject({ state: 'ready', gpu: true, percent: 100 })
    expect(events).toEqual([
      'proxy-up',
      'running booting 0',
      'running packages 5',
      'running docker 15',
      'running gpu-driver 25',
      'running gpu-driver 25',
      'proxy-down',
      'proxy-up',
      'running gpu-driver 25',
      'running image-pull 45',
      'running ollama-start 85',
      'running health 92',
      'ready ready 100',
    ])
  })
})

describe('boot faults', () => {
  it('a boot that fails at a phase says so in boot.json, over HTTP', async () => {
    const h = await startVmSim()
    sims.push(h.sim)
    h.sim.vm.faults.failBoot('image-pull', {
      message: "image-pull failed: 'docker pull ollama/ollama:0.32.15' exited 1: E: no space",
    })
    const r = await recipe()
    const id = await createWith(h.target, r.userData)
    const vm = await h.sim.vm.waitFor(id, (v) => v.bootStatus?.state === 'failed')
    expect(vm.bootStatus).toMatchObject({
      state: 'failed',
      phase: 'image-pull',
      percent: 30,
      error: "image-pull failed: 'docker pull ollama/ollama:0.32.15' exited 1: E: no space",
    })
    const c = instanceClient(vm, r)
    try {
      const res = await c.get('/exollama/boot')
      expect(parseBootStatus(await res.body.json())).toEqual(vm.bootStatus)
      // Ollama never started: nginx answers 502.
      expect((await c.get('/api/version')).statusCode).toBe(502)
    } finally {
      await c.close()
    }
    // A fault applies to one boot by default: a new instance boots fine.
    const again = await createWith(h.target, r.userData)
    expect(
      (
        await h.sim.vm.waitFor(
          again,
          (v) => v.bootStatus?.state !== 'running' && v.bootStatus !== undefined,
        )
      ).bootStatus?.state,
    ).toBe('ready')
  })

  it('a stuck boot stays at its phase however long it waits, and still stops', async () => {
    const { clock, sim, target } = await manualSim()
    sim.vm.faults.slowBoot('image-pull', Infinity)
    const r = await recipe()
    const id = await createWith(target, r.userData)
    await driveUntil(sim, clock, id, (v) => v.bootStatus?.phase === 'image-pull', 100)
    await clock.advance(3_600_000)
    await sim.vm.settled()
    expect(sim.vm.get(id)?.bootStatus).toMatchObject({ state: 'running', phase: 'image-pull' })
    expect((await call(target, 'PUT', `/instance/${id}:stop`)).status).toBe(200)
    const stopped = await driveUntil(sim, clock, id, (v) => v.power === 'off', 100)
    expect(stopped.proxy).toBeUndefined()
    expect(stopped.bootStatus?.phase).toBe('image-pull')
  })

  it('nginx that never comes up refuses connections, and the boot fails at health', async () => {
    const h = await startVmSim()
    sims.push(h.sim)
    h.sim.vm.faults.proxyDown()
    const r = await recipe()
    const id = await createWith(h.target, r.userData)
    const vm = await h.sim.vm.waitFor(id, (v) => v.bootStatus?.state === 'failed')
    expect(vm.bootStatus).toMatchObject({
      phase: 'health',
      error:
        'health failed: nginx answered 000 on 11435 to a request without the key (expected 401)',
    })
    const c = instanceClient({ ...vm, origin: `https://${vm.ip}:11435` } as VmInfo, r)
    try {
      expect(causeCode(await failure(c.get('/api/version')))).toBe('ECONNREFUSED')
    } finally {
      await c.close()
    }
  })

  it('nginx that cannot bind fails the boot at packages; the next boot tries again', async () => {
    const { clock, sim, target } = await manualSim()
    const r = await recipe()
    const id = await createWith(target, r.userData)
    const ip = sim.state.instance(id)?.publicIp as string
    // Something else holds the instance's port when it boots.
    const squatter = net.createServer()
    await new Promise<void>((resolve) => squatter.listen(11435, ip, resolve))
    let vm: VmInfo
    try {
      vm = await driveUntil(sim, clock, id, (v) => v.bootStatus?.state === 'failed', 50)
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()))
    }
    expect(vm.bootStatus).toMatchObject({ phase: 'packages', percent: 5 })
    expect(vm.bootStatus?.error).toMatch(
      /^packages failed: 'nginx -t' exited 1: .*(in use|EADDRINUSE)/,
    )
    expect(vm.proxy).toBeUndefined()

    expect((await call(target, 'PUT', `/instance/${id}:stop`)).status).toBe(200)
    await driveUntil(sim, clock, id, () => sim.state.instance(id)?.state === 'stopped', 50)
    expect((await call(target, 'PUT', `/instance/${id}:start`, { body: {} })).status).toBe(200)
    vm = await driveUntil(sim, clock, id, isReady, 50)
    expect(vm.history.map(line).slice(3)).toEqual([
      'running packages 5',
      'running docker 15',
      'running image-pull 30',
      'running ollama-start 85',
      'running health 92',
      'ready ready 100',
    ])
  })

  it('a different certificate fails the pin; an old Ollama reports its version', async () => {
    const h = await startVmSim()
    sims.push(h.sim)
    const impostor = await recipe()
    const wrong = h.sim.vm.faults.wrongCertificate({
      certPem: impostor.creds.certPem,
      keyPem: impostor.creds.keyPem.reveal(),
    })
    h.sim.vm.faults.ollamaVersion('0.1.32')
    const r = await recipe()
    const id = await createWith(h.target, r.userData)
    const vm = await h.sim.vm.waitFor(id, isReady)
    expect(vm.certFingerprint).toBe(impostor.creds.fingerprint256)
    const c = instanceClient(vm, r)
    const i = instanceClient(vm, impostor)
    try {
      // The pinned agent refuses the other certificate (it is not the pinned root).
      const before = vm.ollama?.requests.length
      const error = await failure(c.get('/api/version'))
      expect(['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls_pin_mismatch']).toContain(causeCode(error))
      expect(vm.ollama?.requests.length).toBe(before)
      // Through the impostor's pin the key still works, and Ollama is old.
      const res = await i.get('/api/version', { 'x-ollama-key': r.key })
      expect(await res.body.json()).toEqual({ version: '0.1.32' })
    } finally {
      await c.close()
      await i.close()
    }
    wrong.remove()
  })
})

/** Re-encodes a recipe's cloud-config without some write_files entries. */
function without(r: Recipe, ...paths: string[]): string {
  const doc = parseDocument(r.cloudConfig, { version: '1.1' })
  const files = doc.toJS().write_files as { path: string }[]
  const kept = files.filter((f) => !paths.includes(f.path))
  doc.set('write_files', kept)
  const text = `#cloud-config\n${doc.toString({ lineWidth: 0 })}`
  return gzipSync(Buffer.from(text)).toString('base64')
}

describe('user-data the VM cannot apply', () => {
  it('a certificate missing from write_files fails the boot at packages, naming the path', async () => {
    const h = await startVmSim()
    sims.push(h.sim)
    const r = await recipe()
    const id = await createWith(h.target, without(r, VM_PATHS.tlsCert))
    const vm = await h.sim.vm.waitFor(id, (v) => v.bootStatus?.state === 'failed')
    expect(vm.history.map(line)).toEqual([
      'running booting 0',
      'running packages 5',
      'failed packages 5',
    ])
    expect(vm.bootStatus?.error).toContain(`ssl_certificate "${VM_PATHS.tlsCert}"`)
    expect(vm.bootStatus?.error).toContain('write_files')
    expect(vm.bootStatus?.error).toMatch(/^packages failed: 'nginx -t' exited 1: /)
    expect(vm.proxy).toBeUndefined()
    const c = instanceClient({ ...vm, origin: `https://${vm.ip}:11435` } as VmInfo, r)
    try {
      expect(causeCode(await failure(c.get('/exollama/boot')))).toBe('ECONNREFUSED')
    } finally {
      await c.close()
    }
  })

  it('a missing key file or nginx config is caught the same way', async () => {
    const h = await startVmSim()
    sims.push(h.sim)
    const r = await recipe()
    const noKey = await createWith(h.target, without(r, VM_PATHS.tlsKey))
    const noConf = await createWith(h.target, without(r, VM_PATHS.nginxConf))
    const a = await h.sim.vm.waitFor(noKey, (v) => v.bootStatus?.state === 'failed')
    expect(a.bootStatus?.error).toContain(`ssl_certificate_key "${VM_PATHS.tlsKey}"`)
    const b = await h.sim.vm.waitFor(noConf, (v) => v.bootStatus?.state === 'failed')
    expect(b.bootStatus?.error).toContain('no nginx site')
  })

  it('user-data that is not a #cloud-config is reported as such', async () => {
    const h = await startVmSim()
    sims.push(h.sim)
    const id = await createWith(h.target, Buffer.from('#!/bin/sh\necho hi\n').toString('base64'))
    const vm = await h.sim.vm.waitFor(id, (v) => v.bootStatus?.state === 'failed')
    expect(vm.bootStatus).toMatchObject({ phase: 'booting', percent: 0 })
    expect(vm.bootStatus?.error).toMatch(/^cloud-init: .*not a #cloud-config/)
    expect(vm.setupError).toContain('#cloud-config')
  })
})

describe('requests during a boot', () => {
  it('get 502 from nginx until Ollama runs, then answers', async () => {
    const { clock, sim, target } = await manualSim()
    const r = await recipe()
    const id = await createWith(target, r.userData)
    let vm = await driveUntil(sim, clock, id, (v) => v.bootStatus?.phase === 'docker', 20)
    const c = instanceClient(vm, r)
    try {
      expect((await c.get('/api/tags')).statusCode).toBe(502)
      vm = await driveUntil(sim, clock, id, (v) => v.ollamaRunning, 20)
      const res = await c.get('/api/tags')
      expect(res.statusCode).toBe(200)
      expect(await res.body.json()).toEqual({ models: [] })
    } finally {
      await c.close()
    }
    expect(vm.bootStatus?.state).toBe('running')
  })
})
