import { describe, expect, it } from 'vitest'
import { Secret } from '../shared/secret.js'
import { INFERENCE_ROUTE_PATTERNS, renderNginxConfig } from './nginx-config.js'

const key = new Secret('Key_for-nginx-config-0123456789')

/** The value of a directive inside `location / { … }`. */
function rootLocation(conf: string): string {
  const start = conf.indexOf('    location / {')
  return conf.slice(start, conf.indexOf('\n    }\n', start))
}

describe('renderNginxConfig', () => {
  it('proxies for streaming, long generations and big bodies, without upstream keepalive', () => {
    const conf = renderNginxConfig({ ollamaKey: key })
    const root = rootLocation(conf)
    for (const line of [
      'proxy_pass http://127.0.0.1:11434;',
      'proxy_http_version 1.1;',
      'proxy_set_header Host localhost:11434;',
      'proxy_set_header X-Ollama-Key "";',
      'proxy_set_header Authorization "";',
      'proxy_set_header Origin "";',
      'proxy_buffering off;',
      'proxy_request_buffering off;',
      'proxy_read_timeout 3600s;',
      'proxy_send_timeout 3600s;',
    ]) {
      expect(root).toContain(line)
    }
    expect(conf).toContain('client_max_body_size 1024m;')
    expect(conf).not.toMatch(/^\s*upstream\b|^\s*keepalive\b/m)
  })

  it('checks the key case-sensitively (regex), in both headers', () => {
    const conf = renderNginxConfig({ ollamaKey: key })
    expect(conf).toContain(`"~^${key.reveal()}$" 1;`)
    expect(conf).toContain(`"~^[Bb][Ee][Aa][Rr][Ee][Rr] +${key.reveal()}$" 1;`)
    // A plain map string would match case-insensitively.
    expect(conf).not.toMatch(new RegExp(`^\\s*"${key.reveal()}"`, 'm'))
  })

  it('counts only inference routes as watchdog activity', () => {
    const res = INFERENCE_ROUTE_PATTERNS.map((p) => new RegExp(p))
    const isInference = (uri: string) => res.some((r) => r.test(uri))
    for (const uri of [
      '/api/generate',
      '/api/chat',
      '/api/embed',
      '/api/embeddings',
      '/api/pull',
      '/api/blobs/sha256:00',
      '/v1/chat/completions',
      '/v1/completions',
      '/v1/embeddings',
      '/v1/responses',
      '/v1/messages',
    ]) {
      expect(isInference(uri)).toBe(true)
    }
    for (const uri of [
      '/',
      '/api/tags',
      '/api/version',
      '/api/ps',
      '/api/show',
      '/v1/models',
      '/exollama/boot',
      '/api/chatx',
      '/x/api/chat',
    ]) {
      expect(isInference(uri)).toBe(false)
    }
  })

  it('restricts clients only when CIDRs other than 0.0.0.0/0 are given', () => {
    expect(renderNginxConfig({ ollamaKey: key })).not.toContain('geo ')
    expect(renderNginxConfig({ ollamaKey: key, allowedCidrs: ['0.0.0.0/0'] })).not.toContain('geo ')
    const limited = renderNginxConfig({ ollamaKey: key, allowedCidrs: ['203.0.113.0/24'] })
    expect(limited).toContain('    127.0.0.1 1;\n    203.0.113.0/24 1;\n}')
    expect(limited).toContain(
      `if ($exollama_client_allowed = 0) { return 403 '{"error":"forbidden"}\\n'; }`,
    )
  })

  it('validates what it embeds', () => {
    expect(() => renderNginxConfig({ ollamaKey: new Secret('short') })).toThrow(
      expect.objectContaining({ code: 'recipe_invalid_setting' }),
    )
    expect(() => renderNginxConfig({ ollamaKey: key, allowedCidrs: ['1.2.3.4/8; }'] })).toThrow(
      expect.objectContaining({ setting: 'allowedCidrs[0]' }),
    )
  })
})
