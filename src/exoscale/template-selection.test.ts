import { describe, expect, it } from 'vitest'
import type { Template } from './schema-types.js'
import { newestTemplateNamed, templateNotFound } from './template-selection.js'

const U22 = 'Linux Ubuntu 22.04 LTS 64-bit'
const templates: Template[] = [
  { id: 'old', name: U22, 'created-at': '2024-01-10T00:00:00Z' },
  { id: 'new', name: U22, 'created-at': '2025-06-01T00:00:00Z' },
  { id: 'mid', name: U22, 'created-at': '2024-11-01T00:00:00Z' },
  { id: 'nodate', name: U22 },
  { id: 'other', name: 'Linux Ubuntu 24.04 LTS 64-bit', 'created-at': '2026-01-01T00:00:00Z' },
]

describe('newestTemplateNamed', () => {
  it('picks the newest created-at among exact name matches', () => {
    expect(newestTemplateNamed(templates, U22)?.id).toBe('new')
    expect(newestTemplateNamed([...templates].reverse(), U22)?.id).toBe('new')
  })
  it('matches names exactly and accepts an id', () => {
    expect(newestTemplateNamed(templates, 'Linux Ubuntu 22.04')).toBeUndefined()
    expect(newestTemplateNamed(templates, 'mid')?.id).toBe('mid')
  })
})

describe('templateNotFound', () => {
  it('lists the available names once each', () => {
    const e = templateNotFound('Nope', 'ch-gva-2', templates)
    expect(e.code).toBe('exoscale_not_found')
    expect(e.message).toContain('no template named "Nope" in zone ch-gva-2')
    expect(e.message).toContain(`"${U22}", "Linux Ubuntu 24.04 LTS 64-bit"`)
    expect(e.message.split(U22)).toHaveLength(2)
  })
})
