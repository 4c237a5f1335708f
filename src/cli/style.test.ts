import { describe, expect, it } from 'vitest'
import { colorEnabled, createStyle } from './style.js'

const tty = { write: () => true, isTTY: true }
const pipe = { write: () => true }

describe('colours', () => {
  it('only on a terminal, never with NO_COLOR or TERM=dumb, forced by FORCE_COLOR', () => {
    expect(colorEnabled(tty, {})).toBe(true)
    expect(colorEnabled(pipe, {})).toBe(false)
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false)
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true)
    expect(colorEnabled(tty, { TERM: 'dumb' })).toBe(false)
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true)
    expect(colorEnabled(tty, { FORCE_COLOR: '0' })).toBe(true)
    expect(colorEnabled(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false)
  })

  it('a disabled style returns the text unchanged', () => {
    expect(createStyle(false).red('x')).toBe('x')
    expect(createStyle(true).red('x')).toBe('\u001b[31mx\u001b[39m')
  })
})
