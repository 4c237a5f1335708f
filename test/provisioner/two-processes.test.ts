import { afterEach, describe, expect, it } from 'vitest'
import { killChildren, startChild } from './helpers/child.js'
import { liveInstances, startHarness, type Harness } from './helpers/harness.js'

let h: Harness
afterEach(async () => {
  await killChildren()
  await h?.close()
})

describe('two processes sharing one data directory', () => {
  it('two gateways racing on the first request create exactly one instance', async () => {
    h = await startHarness()
    const a = startChild(h, { waitForGo: true })
    const b = startChild(h, { waitForGo: true })
    await Promise.all([a.line('started'), b.line('started')])
    a.process.stdin.write('go\n')
    b.process.stdin.write('go\n')
    const [ra, rb] = await Promise.all([a.line('ready '), b.line('ready ')])
    expect(ra.split(' ')[1]).toBe(rb.split(' ')[1])
    expect(h.calls('create-instance')).toBe(1)
    expect(liveInstances(h.sim)).toHaveLength(1)
    // The one that lost the lease adopted what the winner stored: one intent, one record.
    expect(h.store.intents.list({ name: 'exollama' })).toHaveLength(1)
    expect(h.store.instances.get('exollama')?.instanceId).toBe(ra.split(' ')[1])
    await Promise.all([a.exited, b.exited])
  })

  it('the CLI (in this process) and a gateway (a child) racing: one instance, both ready', async () => {
    h = await startHarness()
    const gateway = startChild(h, { waitForGo: true })
    await gateway.line('started')
    const cli = h.provisioner()
    gateway.process.stdin.write('go\n')
    const [mine, theirs] = await Promise.all([
      cli.ensureReady({ reason: 'cli' }),
      gateway.line('ready '),
    ])
    expect(theirs.split(' ')[1]).toBe(mine.instance.id)
    expect(h.calls('create-instance')).toBe(1)
    expect(liveInstances(h.sim)).toHaveLength(1)
  })
})
