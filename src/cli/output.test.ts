import { describe, expect, it } from 'vitest'
import { Secret } from '../shared/index.js'
import type { CliIo } from './io.js'
import { oneLine, Output } from './output.js'

function io(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    env: { NO_COLOR: '1' },
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  }
}

describe('Output', () => {
  it('scrubs remembered secrets from every write', () => {
    const streams = io()
    const o = new Output(streams, { json: false })
    o.addSecret(new Secret('secret-value-123'))
    o.addSecret('other-secret-456')
    o.addSecret('short')
    o.line('a secret-value-123 and other-secret-456 and short')
    o.error('failed with secret-value-123')
    expect(streams.out).toEqual(['a [redacted] and [redacted] and short\n'])
    expect(streams.err).toEqual(['exollama: failed with [redacted]\n'])
  })

  it('in --json mode keeps stdout for the one object: lines go to stderr, a second object is a bug', () => {
    const streams = io()
    const o = new Output(streams, { json: true })
    o.line('progress')
    o.writeJson({ a: 1 })
    expect(streams.out).toEqual(['{\n  "a": 1\n}\n'])
    expect(streams.err).toEqual(['progress\n'])
    expect(() => o.writeJson({ b: 2 })).toThrow(/two JSON objects/)
  })

  it('keeps errors and warnings on one line', () => {
    expect(oneLine('line one\n  line two\r\n')).toBe('line one line two')
    const streams = io()
    new Output(streams, { json: false }).warn('a\nb')
    expect(streams.err).toEqual(['exollama: warning: a b\n'])
  })
})
