import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/shared/index.js'
import {
  startSimulator,
  type Simulator,
  type VmEvent,
  type VmInfo,
} from '../../src/simulator/index.js'
import { systemTool } from '../helpers/system-deps.js'
import { call, type ApiTarget } from './helpers/api.js'
import {
  alive,
  causeCode,
  createWith,
  destroy,
  driveUntil,
  failure,
  instanceAction,
  instanceClient,
  isReady,
  recipe,
  startVmSim,
  type Recipe,
} from './helpers/vm.js'

/**
 * The VM follows the instance: stop refuses connections and keeps the disk (boot status,
 * models), start boots again the way the recipe's later boots do, destroy removes everything,
 * closing the simulator leaves no nginx behind, and the instance's own watchdog powers it off.
 */

const sims: Simulator[] = []
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()))
})

async function fastSim(vm: Parameters<typeof startVmSim>[0] = {}) {
  const h = await startVmSim(vm)
  sims.push(h.sim)
  return h
}

const line = (s: { state: string; phase: string; percent: number }) =>
  `${s.state} ${s.phase} ${s.percent}`

async function refused(vm: VmInfo, r: Recipe): Promise<string | undefined> {
  const c = instanceClient({ ...vm, origin: `https://${vm.ip}:11435` } as VmInfo, r)
  try {
    return causeCode(await failure(c.get('/api/version')))
  } finally {
    await c.close()
  }
}

describe('stop and start', () => {
  it('stop refuses connections and keeps the disk; start boots again with the models kept', async () => {
    const h = await fastSim()
    const r = await recipe()
    const id = await createWith(h.target, r.userData)
    const vm = await h.sim.vm.waitFor(id, isReady)
    const c = instanceClient(vm, r)
    try {
      for await (const _ of await c.ollama().pull({ model: 'qwen2.5:0.5b', stream: true })) {
        // progress
      }
      expect((await c.ollama().list()).models.map((m) => m.name)).toEqual(['qwen2.5:0.5b'])
      const pid = vm.nginxPid

      await instanceAction(h.target, id, 'stop')
      const off = await h.sim.vm.waitFor(id, (v) => v.power === 'off')
      expect(off.proxy).toBeUndefined()
      expect(off.ollamaRunning).toBe(false)
      if (pid !== undefined) expect(alive(pid)).toBe(false)
      expect(await refused(off, r)).toBe('ECONNREFUSED')
      // boot.json stays on the disk.
      const onDisk = JSON.parse(await readFile(off.paths.bootStatus as string, 'utf8')) as unknown
      expect(onDisk).toEqual(vm.bootStatus)

      await instanceAction(h.target, id, 'start')
      const again = await h.sim.vm.waitFor(id, (v) => v.boots === 2 && isReady(v))
      // A later boot only restarts and re-checks Ollama, percent staying at 100.
      expect(again.history.slice(-3).map(line)).toEqual([
        'running ollama-start 100',
        'running health 100',
        'ready ready 100',
      ])
      const c2 = instanceClient(again, r)
      try {
        expect((await c2.ollama().list()).models.map((m) => m.name)).toEqual(['qwen2.5:0.5b'])
        const answer = await c2.ollama().generate({
          model: 'qwen2.5:0.5b',
          prompt: 'hi',
          stream: false,
        })
        expect(answer.done).toBe(true)
      } finally {
        await c2.close()
      }
    } finally {
      await c.close()
    }
  })

  it('a boot stopped halfway resumes from the unfinished step on the next start', async () => {
    const clock = new ManualClock(Date.now())
    const sim = await startSimulator({ clock, vm: { watchdog: false } })
    sims.push(sim)
    const target: ApiTarget = { endpoint: sim.endpoint, credentials: sim.credentials, clock }
    const r = await recipe()
    const id = await createWith(target, r.userData)
    await driveUntil(sim, clock, id, (v) => v.bootStatus?.phase === 'docker', 20)
    expect((await call(target, 'PUT', `/instance/${id}:stop`)).status).toBe(200)
    await driveUntil(sim, clock, id, (v) => v.power === 'off', 50)
    await driveUntil(sim, clock, id, () => sim.state.instance(id)?.state === 'stopped', 50)
    expect((await call(target, 'PUT', `/instance/${id}:start`, { body: {} })).status).toBe(200)
    const vm = await driveUntil(sim, clock, id, (v) => v.boots === 2 && isReady(v), 50)
    expect(vm.history.map(line)).toEqual([
      'running booting 0',
      'running packages 5',
      'running docker 15',
      // the second boot: packages was done, docker was not
      'running docker 15',
      'running image-pull 30',
      'running ollama-start 85',
      'running health 92',
      'ready ready 100',
    ])
  })

  it("after a start, nginx serves the last boot's status until the boot script's first write", async () => {
    const clock = new ManualClock(Date.now())
    const sim = await startSimulator({ clock, vm: { watchdog: false } })
    sims.push(sim)
    const target: ApiTarget = { endpoint: sim.endpoint, credentials: sim.credentials, clock }
    const r = await recipe()
    const id = await createWith(target, r.userData)
    const first = await driveUntil(sim, clock, id, isReady, 50)
    expect((await call(target, 'PUT', `/instance/${id}:stop`)).status).toBe(200)
    await driveUntil(sim, clock, id, () => sim.state.instance(id)?.state === 'stopped', 50)
    await clock.advance(60_000)
    const startedAt = clock.now()
    expect((await call(target, 'PUT', `/instance/${id}:start`, { body: {} })).status).toBe(200)
    const up = await driveUntil(sim, clock, id, (v) => v.boots === 2 && v.proxy !== undefined, 10)
    const c = instanceClient(up, r)
    try {
      // The file on the disk is the first boot's: `ready`, written before this start.
      const stale = (await (await c.get('/exollama/boot')).body.json()) as { updated_at: number }
      expect(stale).toEqual(first.bootStatus)
      expect(stale.updated_at * 1000).toBeLessThan(startedAt)
      expect(up.statusBoot).toBe(1)
      const fresh = await driveUntil(sim, clock, id, (v) => v.statusBoot === 2, 10)
      expect(await (await c.get('/exollama/boot')).body.json()).toEqual(fresh.bootStatus)
      expect(fresh.bootStatus).toMatchObject({ state: 'running', phase: 'ollama-start' })
    } finally {
      await c.close()
    }
  })

  it('a reboot through the API boots the VM again', async () => {
    const h = await fastSim()
    const r = await recipe()
    const id = await createWith(h.target, r.userData)
    const first = await h.sim.vm.waitFor(id, isReady)
    await instanceAction(h.target, id, 'reboot')
    const vm = await h.sim.vm.waitFor(id, (v) => v.boots === 2 && isReady(v))
    if (first.nginxPid !== undefined) {
      expect(vm.nginxPid).not.toBe(first.nginxPid)
      expect(alive(first.nginxPid)).toBe(false)
    }
  })
})

describe('destroy and close', () => {
  it('destroy stops nginx and Ollama and removes the disk', async () => {
    const h = await fastSim()
    const r = await recipe()
    const id = await createWith(h.target, r.userData)
    const vm = await h.sim.vm.waitFor(id, isReady)
    expect(existsSync(vm.rootDir as string)).toBe(true)
    const disposed = new Promise<VmEvent>((resolve) =>
      h.sim.vm.on((e) => {
        if (e.type === 'disposed' && e.instanceId === id) resolve(e)
      }),
    )
    await destroy(h.target, id)
    await disposed
    expect(h.sim.vm.get(id)).toBeUndefined()
    expect(existsSync(vm.rootDir as string)).toBe(false)
    if (vm.nginxPid !== undefined) expect(alive(vm.nginxPid)).toBe(false)
    expect(await refused(vm, r)).toBe('ECONNREFUSED')
    // A destroyed instance's Ollama is gone too (models vanish with the disk).
    expect(causeCode(await failure(request(`${vm.ollama?.url}/api/tags`)))).toBe('ECONNREFUSED')
  })

  it('closing the simulator stops every VM: no nginx process, no temp directory left', async () => {
    const h = await startVmSim()
    const r = await recipe()
    const ids = [await createWith(h.target, r.userData), await createWith(h.target, r.userData)]
    const vms = await Promise.all(ids.map((id) => h.sim.vm.waitFor(id, isReady)))
    expect(new Set(vms.map((v) => v.ip)).size).toBe(2)
    await h.sim.close()
    for (const vm of vms) {
      if (vm.proxyKind === 'nginx') {
        expect(vm.nginxPid).toBeGreaterThan(0)
        expect(alive(vm.nginxPid as number)).toBe(false)
      }
      expect(existsSync(vm.rootDir as string)).toBe(false)
      expect(await refused(vm, r)).toBe('ECONNREFUSED')
    }
    await expect(h.sim.vm.waitFor(ids[0] as string, () => false)).rejects.toThrow(/closed/)
  })

  it('vm.enabled false: instances run without a VM', async () => {
    const h = await fastSim({ vm: { enabled: false } })
    const r = await recipe()
    const id = await createWith(h.target, r.userData)
    const running = new Promise<void>((resolve) =>
      h.sim.onInstanceEvent((e) => {
        if (e.instance.id === id && e.instance.state === 'running') resolve()
      }),
    )
    await running
    await h.sim.vm.settled()
    expect(h.sim.vm.enabled).toBe(false)
    expect(h.sim.vm.get(id)).toBeUndefined()
  })
})

describe('the models of an instance', () => {
  it('EXOLLAMA_MODEL is pulled after ready, and listed', async () => {
    const h = await fastSim()
    const r = await recipe({ preloadModels: ['qwen2.5:0.5b'] })
    const id = await createWith(h.target, r.userData)
    const preloaded = new Promise<VmInfo>((resolve) =>
      h.sim.vm.on((e) => {
        if (e.type === 'preloaded' && e.instanceId === id) resolve(e.info)
      }),
    )
    const vm = await preloaded
    // ready, then ready again after the preload (the watchdog's idle clock restarts).
    expect(vm.history.slice(-2).map(line)).toEqual(['ready ready 100', 'ready ready 100'])
    const c = instanceClient(vm, r)
    try {
      expect((await c.ollama().list()).models.map((m) => m.name)).toEqual(['qwen2.5:0.5b'])
      expect(vm.ollama?.requests.map((q) => q.url)).toEqual(
        expect.arrayContaining(['/api/pull', '/api/generate']),
      )
    } finally {
      await c.close()
    }
  })
})

const proxies = [...(systemTool('nginx') ? (['nginx'] as const) : []), 'standin' as const]

describe.each(proxies)('the on-VM watchdog (the real script from the user-data), %s', (proxy) => {
  async function watchdogSim(watchdog: { firstMs: number; intervalMs: number }) {
    // Real nginx stamps the activity log with the real time; the simulator's clock starts half
    // a minute behind it, so a request made after the boot is after it on both clocks.
    const clock = new ManualClock(Date.now() - 30_000)
    const sim = await startSimulator({ clock, vm: { watchdog, proxy } })
    sims.push(sim)
    const target: ApiTarget = { endpoint: sim.endpoint, credentials: sim.credentials, clock }
    return { clock, sim, target }
  }

  async function waitForLog(vm: VmInfo, text: string): Promise<void> {
    for (let i = 0; i < 500; i++) {
      const log = await readFile(vm.paths.activityLog as string, 'utf8').catch(() => '')
      if (log.includes(text)) return
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    throw new Error(`the activity log never got ${text}`)
  }

  it('keeps an instance in use and powers an idle one off', async () => {
    const { clock, sim, target } = await watchdogSim({ firstMs: 1e9, intervalMs: 1e9 })
    const r = await recipe({ idleTimeoutS: 60, watchdogGraceS: 0, maxLifetimeS: 3600 })
    const id = await createWith(target, r.userData)
    const vm = await driveUntil(sim, clock, id, isReady, 50)
    expect(vm.watchdog.enabled).toBe(true)
    await clock.advance(5_000) // the request comes a few seconds after the boot finished
    const c = instanceClient(vm, r)
    try {
      const answer = await c.ollama().chat({ model: 'm', messages: [], stream: false })
      expect(answer.done).toBe(true)
      await waitForLog(vm, ' POST /api/chat ')
    } finally {
      await c.close()
    }
    await clock.advance(30_000)
    const keep = await sim.vm.runWatchdog(id)
    expect(keep?.poweroff).toBe(false)
    expect(keep?.line).toMatch(/^keep idle idle_s=\d+ limit_s=60 since=request$/)
    expect((await call(target, 'GET', `/instance/${id}`)).json.state).toBe('running')

    await clock.advance(120_000)
    const off = await sim.vm.runWatchdog(id)
    expect(off?.line).toMatch(/^poweroff idle idle_s=\d+ limit_s=60 since=request$/)
    expect((await call(target, 'GET', `/instance/${id}`)).json.state).toBe('stopped')
    const stopped = await sim.vm.waitFor(id, (v) => v.power === 'off')
    expect(await refused(stopped, r)).toBe('ECONNREFUSED')
  })

  it('counts an open stream as use, but the maximum lifetime still powers off', async () => {
    const { clock, sim, target } = await watchdogSim({ firstMs: 1e9, intervalMs: 1e9 })
    const r = await recipe({ idleTimeoutS: 60, watchdogGraceS: 0, maxLifetimeS: 300 })
    const id = await createWith(target, r.userData)
    const vm = await driveUntil(sim, clock, id, isReady, 50)
    const fake = vm.ollama
    if (!fake) throw new Error('no Ollama')
    fake.set({ chunkDelayMs: 10_000_000 }) // on the simulator's clock: the stream stays open
    const c = instanceClient(vm, r)
    try {
      const res = await c.post('/api/chat', {
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
      })
      expect(res.statusCode).toBe(200)
      const reading = res.body.text().catch((e: unknown) => e)
      await clock.advance(120_000)
      const keep = await sim.vm.runWatchdog(id)
      expect(keep?.line).toBe('keep in-flight connections=1')

      await clock.advance(200_000) // uptime now well past 300 s
      const off = await sim.vm.runWatchdog(id)
      expect(off?.line).toMatch(/^poweroff max-lifetime uptime_s=\d+ limit_s=300$/)
      expect((await call(target, 'GET', `/instance/${id}`)).json.state).toBe('stopped')
      // The power-off cut the stream.
      await sim.vm.waitFor(id, (v) => v.power === 'off')
      expect(await reading).toBeInstanceOf(Error)
    } finally {
      await c.close()
    }
  })

  it('runs on its timer by itself: a forgotten instance powers off', async () => {
    const { clock, sim, target } = await watchdogSim({ firstMs: 10_000, intervalMs: 10_000 })
    const r = await recipe({ idleTimeoutS: 30, watchdogGraceS: 0, maxLifetimeS: 3600 })
    const id = await createWith(target, r.userData)
    const decisions: string[] = []
    sim.vm.on((e) => {
      if (e.type === 'watchdog' && e.decision) decisions.push(e.decision.line.split(' ')[0] ?? '')
    })
    await driveUntil(sim, clock, id, isReady, 50)
    const vm = await driveUntil(sim, clock, id, (v) => v.power === 'off', 2_000)
    expect(vm.watchdog.last?.line).toMatch(/^poweroff idle /)
    expect(decisions.at(-1)).toBe('poweroff')
    expect(decisions.slice(0, -1).every((d) => d === 'keep')).toBe(true)
    expect((await call(target, 'GET', `/instance/${id}`)).json.state).toBe('stopped')
  })
})
