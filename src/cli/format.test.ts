import { describe, expect, it } from 'vitest'
import {
  formatBar,
  formatBytes,
  formatDuration,
  formatHours,
  formatMoney,
  formatTable,
} from './format.js'

describe('formats', () => {
  it('durations read naturally at every scale', () => {
    expect(formatDuration(-5)).toBe('0ms')
    expect(formatDuration(950)).toBe('950ms')
    expect(formatDuration(8249)).toBe('8.2s')
    expect(formatDuration(59_999)).toBe('59.9s')
    expect(formatDuration(125_000)).toBe('2m 05s')
    expect(formatDuration(3_720_000)).toBe('1h 02m')
    expect(formatDuration(50 * 3_600_000)).toBe('2d 2h')
  })

  it('bytes in decimal units like Ollama', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(397_821_319)).toBe('398 MB')
    expect(formatBytes(4_700_000_000)).toBe('4.7 GB')
  })

  it('money with 4 decimals below 1 and 2 above; unknown as ?', () => {
    expect(formatMoney(0.04666, 'CHF')).toBe('CHF 0.0467')
    expect(formatMoney(4.25414, 'EUR')).toBe('EUR 4.25')
    expect(formatMoney(null, 'CHF')).toBe('CHF ?')
    expect(formatHours(5_400_000)).toBe('1.50')
  })

  it('bars fill in proportion and clamp', () => {
    expect(formatBar(50, 10)).toBe('[█████░░░░░]')
    expect(formatBar(150, 4, true)).toBe('[####]')
    expect(formatBar(-1, 4, true)).toBe('[----]')
  })

  it('aligns table columns by visible width, ignoring colour codes', () => {
    const red = (s: string) => `\u001b[31m${s}\u001b[39m`
    expect(
      formatTable([
        [red('NAME'), 'SIZE'],
        ['qwen2.5:0.5b', '398 MB'],
      ]),
    ).toEqual([`${red('NAME')}          SIZE`, 'qwen2.5:0.5b  398 MB'])
  })
})
