import { describe, expect, it } from 'vitest'
import { filterByLabels, labelsQueryValue, matchesLabels } from './labels.js'

describe('labels', () => {
  const items = [
    { id: 'a', labels: { 'managed-by': 'exollama', 'exollama-name': 'x' } },
    { id: 'b', labels: { 'managed-by': 'exollama', 'exollama-name': 'y' } },
    { id: 'c', labels: { 'managed-by': 'other' } },
    { id: 'd' },
  ]

  it('keeps only items with every filter label', () => {
    expect(filterByLabels(items, { 'managed-by': 'exollama' }).map((i) => i.id)).toEqual(['a', 'b'])
    expect(
      filterByLabels(items, { 'managed-by': 'exollama', 'exollama-name': 'y' }).map((i) => i.id),
    ).toEqual(['b'])
    expect(filterByLabels(items, { missing: 'v' })).toEqual([])
  })

  it('compares values exactly (no prefix or case folding)', () => {
    expect(matchesLabels({ k: 'value' }, { k: 'val' })).toBe(false)
    expect(matchesLabels({ k: 'Value' }, { k: 'value' })).toBe(false)
    expect(matchesLabels(undefined, {})).toBe(true)
  })

  it('builds the query value with sorted keys', () => {
    expect(labelsQueryValue({ b: '2', a: '1' })).toBe('a=1 b=2')
    expect(labelsQueryValue({ 'managed-by': 'exollama' })).toBe('managed-by=exollama')
    expect(labelsQueryValue({})).toBeUndefined()
  })

  it('sends no server filter the space-separated form cannot express', () => {
    expect(labelsQueryValue({ a: 'x y' })).toBeUndefined()
    expect(labelsQueryValue({ 'a b': 'x' })).toBeUndefined()
    expect(labelsQueryValue({ 'a=b': 'x' })).toBeUndefined()
  })
})
