import { randomUUID } from 'node:crypto'
import { buildUserData, generateInstanceCredentials } from '../../../src/recipe/index.js'
import type { Intent } from '../../../src/store/index.js'
import type { Harness } from './harness.js'

/** The ids a create needs, looked up the way a client would. */
async function catalog(h: Harness) {
  const types = await h.client.listInstanceTypes()
  const type = types.find((t) => t.family === 'standard' && t.size === 'medium')
  const template = await h.client.findTemplate('Linux Ubuntu 22.04 LTS 64-bit')
  if (!type?.id || !template.id) throw new Error('catalog lookup failed')
  return { typeId: type.id, templateId: template.id }
}

export interface Seeded {
  id: string
  intent: Intent | null
}

/**
 * Creates an instance in the simulator the way a (crashed or foreign) exollama would have:
 * labelled for `name`; with `intent: true` an intent with real credentials is written to the
 * store first and the user-data carries them (so the fake VM can serve it).
 */
export async function seedInstance(
  h: Harness,
  options: { intent?: boolean; name?: string; labels?: Record<string, string> } = {},
): Promise<Seeded> {
  const name = options.name ?? 'exollama'
  const { typeId, templateId } = await catalog(h)
  let intent: Intent | null = null
  let userData: string | undefined
  if (options.intent) {
    const creds = await generateInstanceCredentials()
    const lease = h.store.leases.acquire('seed', 'seed', 60_000)
    if (!lease) throw new Error('seed lease')
    intent = h.store.intents.create(
      {
        name,
        zone: 'ch-gva-2',
        instanceType: 'standard.medium',
        template: 'Linux Ubuntu 22.04 LTS 64-bit',
        tlsCertPem: creds.certPem,
        secrets: { ollamaKey: creds.ollamaKey, tlsKeyPem: creds.keyPem },
      },
      { lease: lease.name, owner: lease.owner, fencing: lease.fencing },
    )
    h.store.leases.release({ lease: lease.name, owner: lease.owner, fencing: lease.fencing })
    userData = buildUserData({
      name,
      ollamaKey: creds.ollamaKey,
      tls: { certPem: creds.certPem, keyPem: creds.keyPem },
      gpu: false,
      idleTimeoutS: 1800,
      maxLifetimeS: 86_400,
    }).userData
  }
  const labels = options.labels ?? {
    'managed-by': 'exollama',
    'exollama-name': name,
    'exollama-intent': intent?.id ?? randomUUID(),
  }
  const op = await h.client.createInstance({
    name,
    'instance-type': { id: typeId },
    template: { id: templateId },
    'disk-size': 50,
    labels,
    ...(userData ? { 'user-data': userData } : {}),
  })
  const done = await h.client.waitForOperation(op)
  const id = done.reference?.id
  if (!id) throw new Error('seed create gave no id')
  await h.client.waitForInstanceState(id, ['running'])
  return { id, intent }
}
