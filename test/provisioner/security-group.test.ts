import { afterEach, describe, expect, it } from 'vitest'
import { ensureSecurityGroup } from '../../src/provisioner/index.js'
import { silentLogger } from '../../src/shared/index.js'
import { startHarness, type Harness } from './helpers/harness.js'

let h: Harness
afterEach(async () => {
  await h?.close()
})

function rules() {
  return h.sim.state
    .securityGroups()
    .filter((g) => g.name === 'exollama-exollama')
    .map((g) =>
      g.rules
        .map(
          (r) =>
            `${r.flowDirection} ${r.protocol} ${r.network ?? '-'} ${r.startPort ?? ''}-${r.endPort ?? ''}`,
        )
        .sort(),
    )
}

describe('ensureSecurityGroup', () => {
  it('creates exollama-<name> with one ingress rule per CIDR on 11435 and no egress rule', async () => {
    h = await startHarness()
    const ctx = { client: h.client, logger: silentLogger }
    const first = await ensureSecurityGroup(ctx, 'exollama', ['0.0.0.0/0', '2001:db8::/32'])
    expect(first.created).toBe(true)
    expect(rules()).toEqual([
      ['ingress tcp 0.0.0.0/0 11435-11435', 'ingress tcp 2001:db8::/32 11435-11435'],
    ])
    // Idempotent: a second run changes nothing and makes no mutation.
    const mutationsBefore = h.sim.requests.filter((r) => r.method !== 'GET').length
    const second = await ensureSecurityGroup(ctx, 'exollama', ['0.0.0.0/0', '2001:db8::/32'])
    expect(second).toMatchObject({ id: first.id, created: false, added: [], removed: 0 })
    expect(h.sim.requests.filter((r) => r.method !== 'GET').length).toBe(mutationsBefore)
    // The rule body uses the spec's field names.
    const add = h.sim.requests.find((r) => r.operationId === 'add-rule-to-security-group')
    expect(JSON.parse(add?.body ?? '{}')).toEqual({
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 11435,
      'end-port': 11435,
      description: 'exollama: TLS + key to Ollama',
    })
  })

  it('takes over an existing group: stray egress, other ports and duplicates are removed', async () => {
    h = await startHarness()
    const op = await h.client.createSecurityGroup({ name: 'exollama-exollama' })
    const id = (await h.client.waitForOperation(op)).reference?.id ?? ''
    const add = async (rule: Parameters<typeof h.client.addSecurityGroupRule>[1]) =>
      h.client.waitForOperation(await h.client.addSecurityGroupRule(id, rule))
    await add({
      'flow-direction': 'egress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 443,
      'end-port': 443,
    })
    await add({
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 22,
      'end-port': 22,
    })
    await add({
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '203.0.113.0/24',
      'start-port': 11435,
      'end-port': 11435,
    })
    await add({
      'flow-direction': 'ingress',
      protocol: 'tcp',
      network: '0.0.0.0/0',
      'start-port': 11435,
      'end-port': 11435,
    })
    const sync = await ensureSecurityGroup({ client: h.client, logger: silentLogger }, 'exollama', [
      '203.0.113.0/24',
    ])
    expect(sync).toMatchObject({ id, created: false, added: [], removed: 3 })
    expect(rules()).toEqual([['ingress tcp 203.0.113.0/24 11435-11435']])
  })
})
