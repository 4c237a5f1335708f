import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  canonicalInstanceType,
  INSTANCE_FAMILIES,
  INSTANCE_SIZES,
  isGpuInstanceType,
  ZONES,
} from './exoscale-names.js'

interface Spec {
  components: {
    schemas: Record<string, { enum?: string[]; properties?: Record<string, { enum?: string[] }> }>
  }
}

const spec = JSON.parse(
  readFileSync(new URL('../../spec/exoscale-openapi-v2.json', import.meta.url), 'utf8'),
) as Spec

describe('Exoscale names', () => {
  it('match the zone enum of the OpenAPI spec', () => {
    expect([...ZONES]).toEqual(spec.components.schemas['zone-name']?.enum)
  })

  it('match the instance-type family and size enums of the spec', () => {
    const props = spec.components.schemas['instance-type']?.properties
    expect([...INSTANCE_FAMILIES]).toEqual(props?.family?.enum)
    expect([...INSTANCE_SIZES]).toEqual(props?.size?.enum)
  })

  it('canonicalises instance types, defaulting the family to standard', () => {
    expect(canonicalInstanceType('small')).toBe('standard.small')
    expect(canonicalInstanceType('GPUA5000.Medium')).toBe('gpua5000.medium')
    expect(canonicalInstanceType('gpua5000')).toBeUndefined()
    expect(canonicalInstanceType('.medium')).toBeUndefined()
  })

  it('knows GPU families', () => {
    expect(isGpuInstanceType('gpua5000.small')).toBe(true)
    expect(isGpuInstanceType('standard.medium')).toBe(false)
  })
})
