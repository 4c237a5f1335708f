import { describe, expect, it } from 'vitest'
import { isBlobPath, matchRoute, modelParam } from './routes.js'

describe('routes', () => {
  it('matches the documented surface exactly', () => {
    expect(matchRoute('/api/chat')).toMatchObject({
      kind: 'forward',
      methods: ['POST'],
      family: 'ollama',
    })
    expect(matchRoute('/v1/chat/completions')).toMatchObject({ kind: 'forward', family: 'openai' })
    expect(matchRoute('/api/tags')).toMatchObject({ kind: 'cached', cacheKey: 'tags' })
    expect(matchRoute('/v1/models')).toMatchObject({ kind: 'cached', cacheKey: 'models' })
    expect(matchRoute('/v1/models/qwen2.5%3A0.5b')).toMatchObject({
      id: '/v1/models/:model',
      kind: 'forward',
    })
    expect(matchRoute('/api/pull')).toMatchObject({ kind: 'admin' })
    expect(matchRoute('/api/blobs/sha256:1/2')).toMatchObject({ kind: 'admin' })
    expect(matchRoute('/exollama/v1/settings')).toMatchObject({
      kind: 'management',
      management: 'settings',
    })
    expect(matchRoute('/ui/app.js')).toMatchObject({ kind: 'dashboard' })
    for (const p of [
      '/api',
      '/api/',
      '/api/chat/',
      '/v1/models/',
      '/v1/models/a/b',
      '/api/status',
      '/uix',
      '/exollama/v1/nope',
    ]) {
      expect(matchRoute(p), p).toBeUndefined()
    }
  })

  it('extracts single-segment parameters only', () => {
    expect(modelParam('/v1/models/llama3')).toBe('llama3')
    expect(modelParam('/v1/models/a/b')).toBeUndefined()
    expect(isBlobPath('/api/blobs/sha256:abc')).toBe(true)
    expect(isBlobPath('/api/blobs/sha256:abc/x')).toBe(false)
  })
})
