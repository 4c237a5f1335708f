import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ZONES, type ZoneName } from '../../src/simulator/index.js'
import { call } from './helpers/api.js'
import { createInstance, startHarness, type SimHarness } from './helpers/setup.js'

let h: SimHarness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h.sim.close()
})

interface TypeJson {
  id: string
  family: string
  size: string
  cpus: number
  gpus?: number
  memory: number
  authorized: boolean
  zones: string[]
}

async function types(zone: ZoneName): Promise<Map<string, TypeJson>> {
  const res = await call(h.zone(zone), 'GET', '/instance-type')
  return new Map(
    (res.json['instance-types'] as TypeJson[]).map((t) => [`${t.family}.${t.size}`, t]),
  )
}

const usable = (t: TypeJson | undefined, zone: ZoneName) =>
  t !== undefined && t.authorized && t.zones.includes(zone)

describe('zones', () => {
  it('lists the 8 zones of the spec with their real endpoints', async () => {
    const res = await h.call('GET', '/zone', { auth: false })
    expect(res.json.zones.map((z: { name: string }) => z.name).sort()).toEqual([...ZONES].sort())
    expect(res.json.zones[0]).toEqual({
      name: 'at-vie-1',
      'api-endpoint': 'https://api-at-vie-1.exoscale.com/v2',
      'sos-endpoint': 'https://sos-at-vie-1.exo.io',
    })
  })
})

describe('instance types', () => {
  it('offers standard.micro … standard.colossus everywhere, memory in bytes', async () => {
    for (const zone of ZONES) {
      const all = await types(zone)
      for (const size of [
        'micro',
        'tiny',
        'small',
        'medium',
        'large',
        'extra-large',
        'huge',
        'mega',
        'titan',
        'jumbo',
        'colossus',
      ]) {
        expect(usable(all.get(`standard.${size}`), zone), `${zone} standard.${size}`).toBe(true)
      }
      expect(all.get('standard.medium')).toMatchObject({ cpus: 2, memory: 4 * 1024 ** 3 })
      expect(all.get('standard.medium')).not.toHaveProperty('gpus')
    }
  })

  it('authorizes gpua5000 and gpu3080ti only in at-vie-2 and gpu3 only in de-fra-1', async () => {
    for (const zone of ZONES) {
      const all = await types(zone)
      for (const size of ['small', 'medium', 'large']) {
        expect(usable(all.get(`gpua5000.${size}`), zone), `${zone} gpua5000.${size}`).toBe(
          zone === 'at-vie-2',
        )
        expect(usable(all.get(`gpu3080ti.${size}`), zone)).toBe(zone === 'at-vie-2')
        expect(usable(all.get(`gpu3.${size}`), zone)).toBe(zone === 'de-fra-1')
      }
    }
    const vie = await types('at-vie-2')
    expect(vie.get('gpua5000.small')).toMatchObject({
      gpus: 1,
      authorized: true,
      zones: ['at-vie-2'],
    })
    expect(vie.get('gpua5000.large')?.gpus).toBe(4)
    expect((await types('ch-gva-2')).get('gpua5000.small')?.authorized).toBe(false)
  })

  it('lists gpurtx6000pro in ch-dk-2 as not authorized, and refuses to create it (quota 0)', async () => {
    const dk = await types('ch-dk-2')
    const rtx = dk.get('gpurtx6000pro.small')
    expect(rtx).toMatchObject({ authorized: false })
    expect(rtx?.zones).toContain('ch-dk-2')
    const res = await createInstance(h.zone('ch-dk-2'), {}, 'gpurtx6000pro.small')
    expect(res.status).toBe(403)
    expect(res.json).toEqual({ message: 'Quota exceeded for resource gpurtx6000pro (limit 0)' })
  })

  it('authorizes a GPU family once its quota is raised', async () => {
    const fault = h.sim.faults.quota('gpurtx6000pro', 2)
    try {
      expect((await types('ch-dk-2')).get('gpurtx6000pro.small')?.authorized).toBe(true)
      const res = await createInstance(h.zone('ch-dk-2'), {}, 'gpurtx6000pro.small')
      expect(res.status).toBe(200)
      const big = await createInstance(h.zone('ch-dk-2'), {}, 'gpurtx6000pro.medium')
      expect(big.status).toBe(403)
      expect(big.json.message).toBe('Quota exceeded for resource gpurtx6000pro (limit 2)')
    } finally {
      fault.remove()
    }
    expect((await types('ch-dk-2')).get('gpurtx6000pro.small')?.authorized).toBe(false)
  })

  it('gets one type by id', async () => {
    const medium = (await types('ch-gva-2')).get('standard.medium')
    const res = await h.call('GET', `/instance-type/${medium?.id}`)
    expect(res.json).toEqual(medium)
  })
})

describe('templates', () => {
  interface TemplateJson {
    id: string
    name: string
    visibility: string
    'created-at': string
    'default-user': string
    family: string
  }
  const list = async (zone: ZoneName, query: Record<string, string> = { visibility: 'public' }) =>
    (await call(h.zone(zone), 'GET', '/template', { query })).json.templates as TemplateJson[]

  it('has the Ubuntu LTS and Debian templates in every zone, with zone-specific ids and no zones field', async () => {
    const ids = new Set<string>()
    for (const zone of ZONES) {
      const templates = await list(zone)
      const names = new Set(templates.map((t) => t.name))
      for (const name of [
        'Linux Ubuntu 24.04 LTS 64-bit',
        'Linux Ubuntu 22.04 LTS 64-bit',
        'Linux Ubuntu 20.04 LTS 64-bit',
        'Linux Debian 12 (Bookworm) 64-bit',
      ]) {
        expect(names.has(name), `${zone} ${name}`).toBe(true)
      }
      for (const t of templates) {
        expect(t).not.toHaveProperty('zones')
        expect(t.visibility).toBe('public')
        ids.add(t.id)
      }
    }
    expect(ids.size).toBe(ZONES.length * (await list('ch-gva-2')).length)
  })

  it('has same-named duplicates with different created-at; the newest is not simply first or last', async () => {
    const templates = await list('ch-gva-2')
    const jammy = templates.filter((t) => t.name === 'Linux Ubuntu 22.04 LTS 64-bit')
    expect(jammy.length).toBeGreaterThan(1)
    expect(new Set(jammy.map((t) => t['created-at'])).size).toBe(jammy.length)
    const newest = [...jammy].sort((a, b) => b['created-at'].localeCompare(a['created-at']))[0]
    expect(newest?.id).not.toBe(jammy[0]?.id)
    expect(newest?.id).not.toBe(jammy.at(-1)?.id)
    expect(jammy.every((t) => t['default-user'] === 'ubuntu')).toBe(true)
  })

  it('lists private templates only with visibility=private, and filters by family', async () => {
    const priv = await list('ch-gva-2', { visibility: 'private' })
    expect(priv.length).toBeGreaterThan(0)
    expect(priv.every((t) => t.visibility === 'private')).toBe(true)
    const pub = await list('ch-gva-2')
    expect(pub.some((t) => priv.some((p) => p.id === t.id))).toBe(false)
    const debian = await list('ch-gva-2', { visibility: 'public', family: 'debian' })
    expect(debian.length).toBeGreaterThan(0)
    expect(debian.every((t) => t.family === 'debian')).toBe(true)
  })
})
