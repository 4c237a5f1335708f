import { afterEach, describe, expect, it } from 'vitest'
import type { Progress, StatusObject } from '../../src/app/lifecycle.js'
import { createLocalLifecycle } from '../../src/app/local-lifecycle.js'
import { liveInstances, startHarness, type Harness } from './helpers/harness.js'

describe('createLocalLifecycle over a provisioner', () => {
  let h: Harness
  afterEach(async () => {
    await h?.close()
  })

  it('start, models, pull, stop and destroy, with progress', async () => {
    h = await startHarness()
    const lifecycle = createLocalLifecycle({ provisioner: h.provisioner() })
    const progress: Progress[] = []
    const onProgress = (p: Progress) => progress.push(p)

    const started: StatusObject = await lifecycle.start({ onProgress, timeoutMs: 60_000 })
    expect(started.state).toBe('ready')
    expect(started.instance?.id).toBe(liveInstances(h.sim)[0]?.id)
    expect(progress.filter((p) => p.kind === 'phase').map((p) => p.phase)).toContain('booting')

    expect((await lifecycle.models()).map((m) => m.name)).toEqual(['qwen2.5:0.5b'])

    progress.length = 0
    await lifecycle.pull('llama3.2:1b', { onProgress })
    const bytes = progress.filter((p) => p.kind === 'pull' && p.total !== undefined)
    expect(bytes.length).toBeGreaterThan(0)
    expect(bytes.at(-1)).toMatchObject({ kind: 'pull', model: 'llama3.2:1b' })
    const last = bytes.at(-1)
    expect(last?.kind === 'pull' && last.completed === last.total).toBe(true)
    expect(progress.at(-1)).toEqual({ kind: 'pull', model: 'llama3.2:1b', status: 'success' })
    const ollama = h.sim.vm.get(started.instance?.id ?? '')?.ollama
    const pulls = (ollama?.requests ?? []).filter((r) => r.url === '/api/pull').map((r) => r.body)
    expect(pulls).toContain(JSON.stringify({ model: 'llama3.2:1b', stream: true }))
    expect((await lifecycle.models()).map((m) => m.name).sort()).toEqual([
      'llama3.2:1b',
      'qwen2.5:0.5b',
    ])

    progress.length = 0
    const stopped = await lifecycle.stop({ onProgress })
    expect(stopped.state).toBe('stopped')
    expect(progress.map((p) => (p.kind === 'phase' ? p.phase : p.kind))).toEqual([
      'stopping',
      'stopped',
    ])

    const destroyed = await lifecycle.destroy()
    expect(destroyed).toMatchObject({ state: 'absent', instance: null })
    expect(liveInstances(h.sim)).toEqual([])
    const stopEvent = h.events().find((e) => e.type === 'stop')
    expect(stopEvent?.actor).toBe('cli')
    await lifecycle.close()
  })
})
