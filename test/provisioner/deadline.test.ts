import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/shared/index.js'
import {
  CANARY_API_SECRET,
  CANARY_OLLAMA_KEY,
  capturingLogger,
  drive,
  liveInstances,
  startHarness,
  TEST_SETTINGS,
  type Harness,
} from './helpers/harness.js'
import { Secret } from '../../src/shared/index.js'
import { generateInstanceCredentials } from '../../src/recipe/index.js'
import type { VmInfo } from '../../src/simulator/index.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

describe('the wake deadline', () => {
  it('destroys (deletes, not stops) an instance that never becomes ready and gives every waiter one clear error', async () => {
    h = await startHarness()
    h.sim.vm.faults.slowBoot('health', Infinity)
    const { logger, lines } = capturingLogger()
    const clock = new ManualClock(Date.now())
    const p = h.provisioner({
      clock,
      logger,
      settings: { ...TEST_SETTINGS, wakeTimeoutS: 600, ollamaKey: new Secret(CANARY_OLLAMA_KEY) },
    })
    const waiters = [p.ensureReady(), p.ensureReady(), p.ensureReady()]
    const all = Promise.all(
      waiters.map((w) =>
        w.then(
          () => null,
          (e: unknown) => e,
        ),
      ),
    )
    // Boot goes as far as it ever will, then the deadline passes.
    await drive(clock, all, { until: () => p.progress()?.boot?.phase === 'health' })
    const startedAt = h.events().find((e) => e.type === 'wake')?.ts ?? 0
    await clock.advance(startedAt + 600_000 - clock.now() - 1)
    expect(h.calls('delete-instance')).toBe(0)
    await clock.advance(1)
    const errors = await all
    for (const error of errors) {
      expect(error).toMatchObject({ code: 'wake_timeout', kind: 'timeout' })
    }
    // One wake, one error object shared by all.
    expect(new Set(errors).size).toBe(1)
    const message = (errors[0] as Error).message
    expect(message).toContain('not ready within 600 s')
    expect(message).toContain('last boot phase health, 92%')
    expect(message).toContain('it was destroyed')
    expect(message).toContain('EXOLLAMA_WAKE_TIMEOUT')
    expect(h.events().find((e) => e.type === 'destroy')?.ts).toBe(startedAt + 600_000)

    expect(h.calls('create-instance')).toBe(1)
    expect(h.calls('delete-instance')).toBe(1)
    expect(h.calls('stop-instance')).toBe(0)
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.store.instances.get('exollama')).toBeNull()
    expect(h.store.usage.openSessions()).toEqual([])
    expect(p.state()).toBe('error')
    const status = await p.status()
    expect(status.state).toBe('error')
    expect(status.error?.code).toBe('wake_timeout')
    const types = h.events().map((e) => e.type)
    expect(types.slice(-3)).toEqual(['destroy', 'destroyed', 'error'])

    // No secret anywhere: events, errors, logs.
    const everything = JSON.stringify(h.events()) + message + lines.join('\n')
    expect(everything).not.toContain(CANARY_OLLAMA_KEY)
    expect(everything).not.toContain(CANARY_API_SECRET)
    expect(everything).not.toContain('PRIVATE KEY')
  })

  it('destroys an instance whose boot failed and reports the VM’s own reason', async () => {
    h = await startHarness()
    h.sim.vm.faults.failBoot('docker', { message: 'apt-get install docker-ce failed (exit 100)' })
    const p = h.provisioner()
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'boot_failed', kind: 'cloud' })
    expect((error as Error).message).toBe(
      'the instance failed to boot at step docker: apt-get install docker-ce failed (exit 100); it was destroyed',
    )
    expect(liveInstances(h.sim)).toEqual([])
    expect(h.calls('delete-instance')).toBe(1)
    const failure = h.events().find((e) => e.type === 'error')
    expect(failure?.errorCode).toBe('boot_failed')
    expect(failure?.data?.destroyed).toBe('yes')
  })

  it('counts start --timeout from the command’s start: the time already spent is not given again', async () => {
    h = await startHarness()
    h.sim.vm.faults.slowBoot('docker', Infinity)
    const clock = new ManualClock(Date.now())
    const p = h.provisioner({ clock })
    // The command began 25 s ago with a 28 s limit: 3 s are left for the wake.
    const startedAt = clock.now() - 25_000
    const started = p.start({ timeoutMs: 28_000, startedAt, actor: 'cli' }).catch((e: unknown) => e)
    const error = await drive(clock, started)
    expect(error).toMatchObject({ code: 'wake_timeout' })
    expect((error as Error).message).toContain('not ready within 28 s')
    // Deleted at the deadline (the manual clock keeps moving while the delete is under way).
    const destroyAt = h.events().find((e) => e.type === 'destroy')?.ts ?? 0
    expect(destroyAt).toBeGreaterThanOrEqual(startedAt + 28_000)
    expect(destroyAt).toBeLessThanOrEqual(startedAt + 28_000 + 5_000)
    expect(liveInstances(h.sim)).toEqual([])
    const wake = h.events().find((e) => e.type === 'wake')
    expect(wake?.reason).toBe('start by cli')
  })

  it('keeps retrying refused connections to the instance until it answers', async () => {
    // The scripted VM: nothing listens for a while, then nginx says "booting" three times.
    h = await startHarness({ fakeVm: { listenDelayMs: 600, bootingAnswers: 3 } })
    const p = h.provisioner()
    const ready = await p.ensureReady()
    expect(ready.instance.id).toBeDefined()
    const polls = h.vms.requests.filter((r) => r.path === '/exollama/boot')
    expect(polls.length).toBeGreaterThanOrEqual(4)
    expect(h.events().some((e) => e.type === 'error')).toBe(false)
  })

  it('a pull that fails destroys what the wake created and names EXOLLAMA_MODEL', async () => {
    h = await startHarness({
      fakeVm: { pull: { error: 'pull model manifest: file does not exist' } },
    })
    const p = h.provisioner({ settings: { ...TEST_SETTINGS, models: ['no-such-model:1b'] } })
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'model_pull_failed' })
    expect((error as Error).message).toContain('no-such-model:1b')
    expect((error as Error).message).toContain('file does not exist')
    expect((error as Error).message).toContain('EXOLLAMA_MODEL')
    expect(liveInstances(h.sim)).toEqual([])
  })

  it('an impostor certificate at the instance address: nothing is sent, the wake fails at once and the instance is destroyed', async () => {
    const impostor = await generateInstanceCredentials()
    h = await startHarness()
    h.sim.vm.faults.wrongCertificate({
      certPem: impostor.certPem,
      keyPem: impostor.keyPem.reveal(),
    })
    // Keep hold of the instance's Ollama: it must not see a single request from us.
    const ollamas = new Set<NonNullable<VmInfo['ollama']>>()
    h.sim.vm.on((e) => {
      if (e.info.ollama) ollamas.add(e.info.ollama)
    })
    const p = h.provisioner()
    const error = await p.ensureReady().catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'tls_pin_mismatch', kind: 'cloud' })
    expect(ollamas.size).toBe(1)
    // Not one answer came back through the impostor: no boot status was ever read, and Ollama
    // never saw our pull (the VM's own preload asks with stream:false).
    expect(h.events().filter((e) => e.type === 'boot' && e.data?.percent !== undefined)).toEqual([])
    const ours = [...ollamas]
      .flatMap((o) => o.requests)
      .filter((r) => r.url === '/api/pull' && r.body.includes('"stream":true'))
    expect(ours).toEqual([])
    expect(liveInstances(h.sim)).toEqual([])
  })
})
