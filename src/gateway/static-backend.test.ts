import { describe, expect, it } from 'vitest'
import { parseBackendUrl, StaticBackend } from './static-backend.js'

describe('StaticBackend', () => {
  it('is always ready and forwards to the origin it was given', async () => {
    const backend = new StaticBackend({
      url: 'http://127.0.0.1:11434/',
      headers: { 'x-ollama-key': 'k' },
    })
    expect(backend.state()).toBe('ready')
    const upstream = await backend.ensureReady()
    expect(upstream.origin).toBe('http://127.0.0.1:11434')
    expect(upstream.headers).toEqual({ 'x-ollama-key': 'k' })
    const end = backend.activity.begin()
    expect(backend.activity.inFlight).toBe(1)
    end()
    end()
    expect(backend.activity.inFlight).toBe(0)
    await backend.close()
  })

  it('turns URL credentials into Basic auth and refuses paths, queries and other schemes', () => {
    expect(parseBackendUrl('https://user:p%40ss@ollama.lan:443')).toEqual({
      origin: 'https://ollama.lan',
      headers: { authorization: `Basic ${Buffer.from('user:p@ss').toString('base64')}` },
    })
    for (const bad of [
      'ollama.lan:11434',
      'ftp://x',
      'http://x/api',
      'http://x/?a=1',
      'not a url',
    ]) {
      expect(() => parseBackendUrl(bad), bad).toThrow(
        expect.objectContaining({ code: 'invalid_backend_url' }),
      )
    }
  })
})
