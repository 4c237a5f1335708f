import { describe, expect, it } from 'vitest'
import { checkRequestTarget } from './request-target.js'

describe('checkRequestTarget', () => {
  it.each([
    ['/api/chat', '/api/chat', ''],
    ['/api/tags?x=1', '/api/tags', 'x=1'],
    ['/v1/models/qwen2.5%3A0.5b', '/v1/models/qwen2.5%3A0.5b', ''],
    ['/', '/', ''],
    ['/api/tags?a=%2F..%2F', '/api/tags', 'a=%2F..%2F'],
  ])('accepts %s', (raw, path, query) => {
    expect(checkRequestTarget(raw)).toEqual({ ok: true, path, query })
  })

  it.each([
    undefined,
    '',
    '*',
    'api/tags',
    'http://evil.example/api/tags',
    'HTTP://127.0.0.1/api/tags',
    '//evil.example/x',
    '/api//tags',
    '\\\\evil',
    '/api\\tags',
    '/api/../x',
    '/api/./chat',
    '/..',
    '/api/%2e%2e/x',
    '/api/%2E./x',
    '/api/.%2E/x',
    '/api%2fx',
    '/api%2Fx',
    '/api%5cx',
    '/api%5Cx',
    '/api/tags%00',
    '/api/t%g1',
    '/api/t%',
    '/api/tags#frag',
    '/api/t\u00e4gs',
    '/api/tags?x=\u0001',
  ])('rejects %j', (raw) => {
    expect(checkRequestTarget(raw)).toMatchObject({ ok: false, code: 'invalid_request_target' })
  })
})

describe('checkRequestTarget edge cases', () => {
  it.each([
    '/api/..?x=1',
    '/api/.?x',
    '/..',
    '/.',
    '/a/%2e',
    '/a%',
    '/a%4',
    '/a%4?',
    '/api/tags?#x',
    '/a/%5C',
  ])('rejects %j', (raw) => {
    expect(checkRequestTarget(raw).ok).toBe(false)
  })

  it.each([
    ['/...', '/...'],
    ['/a.b/.c/d.', '/a.b/.c/d.'],
    ['/a%41', '/a%41'],
    ['/api/tags/', '/api/tags/'],
  ])('accepts %j', (raw, path) => {
    expect(checkRequestTarget(raw)).toEqual({ ok: true, path, query: '' })
  })
})
