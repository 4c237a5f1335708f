import { describe, expect, it } from 'vitest'
import { isExoscaleError } from './errors.js'
import { parseInstanceTypeName, selectInstanceType } from './instance-type-selection.js'
import type { InstanceType } from './schema-types.js'

const types: InstanceType[] = [
  {
    id: 't1',
    family: 'standard',
    size: 'medium',
    authorized: true,
    zones: ['ch-gva-2', 'at-vie-2'],
  },
  { id: 't2', family: 'standard', size: 'small', authorized: true, zones: ['ch-gva-2'] },
  { id: 't3', family: 'gpua5000', size: 'small', gpus: 1, authorized: false, zones: ['at-vie-2'] },
  { id: 't4', family: 'memory', size: 'large' },
]

describe('parseInstanceTypeName', () => {
  it('splits family.size and defaults the family to standard', () => {
    expect(parseInstanceTypeName('gpua5000.small')).toEqual({ family: 'gpua5000', size: 'small' })
    expect(parseInstanceTypeName('medium')).toEqual({ family: 'standard', size: 'medium' })
    expect(parseInstanceTypeName(' Standard.Extra-Large ')).toEqual({
      family: 'standard',
      size: 'extra-large',
    })
  })
  it('rejects malformed names', () => {
    for (const bad of ['', 'a.b.c', 'standard.', '.small', 'a b']) {
      expect(() => parseInstanceTypeName(bad)).toThrow(/not an instance type/)
    }
  })
})

describe('selectInstanceType', () => {
  it('finds by family.size in the zone and reports authorized', () => {
    expect(selectInstanceType(types, 'standard.medium', 'ch-gva-2').id).toBe('t1')
    expect(selectInstanceType(types, 'small', 'ch-gva-2').id).toBe('t2')
    const gpu = selectInstanceType(types, 'gpua5000.small', 'at-vie-2')
    expect(gpu.id).toBe('t3')
    expect(gpu.authorized).toBe(false)
  })
  it('takes types without a zones list as available', () => {
    expect(selectInstanceType(types, 'memory.large', 'de-fra-1').id).toBe('t4')
  })
  it('refuses a type the zone does not offer and says where it is', () => {
    try {
      selectInstanceType(types, 'gpua5000.small', 'ch-gva-2')
      expect.unreachable()
    } catch (e) {
      expect(isExoscaleError(e, 'exoscale_not_found')).toBe(true)
      expect((e as Error).message).toContain('offered in at-vie-2')
      expect((e as Error).message).toContain(
        'available here: memory.large, standard.medium, standard.small',
      )
    }
  })
})
