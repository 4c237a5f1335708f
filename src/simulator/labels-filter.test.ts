import { describe, expect, it } from 'vitest'
import { ApiError } from './api-error.js'
import { matchesLabels, parseLabelsFilter } from './labels-filter.js'

const labels = { 'managed-by': 'exollama', 'exollama-name': 'a' }

describe('labels filter', () => {
  it('accepts space-separated key=value pairs, all of which must match', () => {
    expect(matchesLabels(labels, parseLabelsFilter('managed-by=exollama'))).toBe(true)
    expect(matchesLabels(labels, parseLabelsFilter('managed-by=exollama exollama-name=a'))).toBe(
      true,
    )
    expect(matchesLabels(labels, parseLabelsFilter('managed-by=exollama exollama-name=b'))).toBe(
      false,
    )
    expect(matchesLabels(labels, parseLabelsFilter('managed-by=other'))).toBe(false)
  })

  it('treats a bare key as "has the label"', () => {
    expect(matchesLabels(labels, parseLabelsFilter('exollama-name'))).toBe(true)
    expect(matchesLabels(labels, parseLabelsFilter('missing'))).toBe(false)
  })

  it('accepts a JSON object', () => {
    expect(matchesLabels(labels, parseLabelsFilter('{"managed-by":"exollama"}'))).toBe(true)
    expect(matchesLabels(labels, parseLabelsFilter('{"managed-by":"x"}'))).toBe(false)
  })

  it('rejects what it cannot read with a 400 naming labels', () => {
    for (const bad of ['', '  ', '{"a":1}', '{nope', '=v', '{"a":"b"} extra', '{"a":null}']) {
      expect(() => parseLabelsFilter(bad), bad).toThrow(ApiError)
      try {
        parseLabelsFilter(bad)
      } catch (e) {
        expect((e as ApiError).status).toBe(400)
        expect((e as ApiError).message).toContain('labels')
      }
    }
  })
})
