import { describe, expect, it } from 'vitest'
import { assertOllamaVersion, parseVersion } from './readiness.js'

describe('Ollama version checks', () => {
  it('parses release, pre-release and two-part versions', () => {
    expect(parseVersion('0.32.15')).toEqual([0, 32, 15])
    expect(parseVersion('0.6.0-rc2')).toEqual([0, 6, 0])
    expect(parseVersion('v1.2')).toEqual([1, 2, 0])
    expect(parseVersion('dev')).toBeUndefined()
  })

  it('accepts the minimum and newer, numerically (0.17.10 > 0.17.9)', () => {
    expect(() => assertOllamaVersion('0.17.1', '0.17.1')).not.toThrow()
    expect(() => assertOllamaVersion('0.17.10', '0.17.9')).not.toThrow()
    expect(() => assertOllamaVersion('1.0.0', '0.17.1')).not.toThrow()
  })

  it('refuses older, unreadable and development (0.0.0) versions, naming the setting to change', () => {
    for (const v of ['0.17.0', '0.9.99', 'garbage', '0.0.0']) {
      expect(() => assertOllamaVersion(v, '0.17.1')).toThrowError(
        expect.objectContaining({
          code: 'vm_ollama_too_old',
          message: expect.stringContaining('EXOLLAMA_OLLAMA_IMAGE_TAG'),
        }),
      )
    }
  })
})
