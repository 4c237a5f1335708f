import { describe, expect, it } from 'vitest'
import {
  describeSettings,
  InvalidSettingError,
  parseSetting,
  SETTING_NAMES,
} from '../../src/config/index.js'

describe('describeSettings', () => {
  it('describes every setting, in list order, with the words its errors use', () => {
    const descriptions = describeSettings()
    expect(descriptions.map((d) => d.name)).toEqual([...SETTING_NAMES])
    for (const d of descriptions) {
      try {
        parseSetting(d.name, '\u0000not a value\u0000')
        expect.unreachable(`${d.name} accepted garbage`)
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidSettingError)
        expect((error as Error).message).toContain(`expected ${d.expected}`)
      }
    }
  })

  it('gives choices for enums, units for numbers and the restart flag', () => {
    const byName = new Map(describeSettings().map((d) => [d.name, d]))
    expect(byName.get('EXOLLAMA_IDLE_ACTION')).toMatchObject({
      kind: 'enum',
      choices: ['destroy', 'stop'],
      default: 'destroy',
      restart: false,
    })
    expect(byName.get('EXOSCALE_IDLE_TIMEOUT')).toMatchObject({ kind: 'integer', unit: 'seconds' })
    expect(byName.get('EXOSCALE_DISK_SIZE')).toMatchObject({ unit: 'GiB', effect: 'next-instance' })
    expect(byName.get('EXOLLAMA_LISTEN')).toMatchObject({ restart: true, effect: 'restart' })
    expect(byName.get('EXOSCALE_API_SECRET')).toMatchObject({ secret: true, default: null })
    expect(byName.get('EXOSCALE_OLLAMA_KEY')?.default).toBe('random per instance')
    expect(Object.isFrozen(describeSettings())).toBe(true)
  })
})
