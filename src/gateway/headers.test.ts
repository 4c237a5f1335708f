import { describe, expect, it } from 'vitest'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'

describe('headers', () => {
  it('drops hop-by-hop, host, client credentials and browser context going up; adds the instance key', () => {
    const raw = [
      'Host',
      'localhost:11434',
      'Content-Type',
      'application/json',
      'Authorization',
      'Bearer client-key',
      'X-Api-Key',
      'client-key',
      'X-Ollama-Key',
      'client-key',
      'Cookie',
      'a=b',
      'Origin',
      'http://localhost:3000',
      'Connection',
      'keep-alive, X-Private',
      'X-Private',
      'hop',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'TE',
      'trailers',
      'Upgrade',
      'websocket',
      'Proxy-Authorization',
      'Basic x',
      'Accept-Encoding',
      'gzip',
      'Expect',
      '100-continue',
      'User-Agent',
      'ollama-js/0.6.4',
      'Content-Length',
      '12',
    ]
    expect(
      upstreamRequestHeaders(raw, 'keep-alive, X-Private', { 'X-Ollama-Key': 'instance-key' }),
    ).toEqual([
      'Content-Type',
      'application/json',
      'User-Agent',
      'ollama-js/0.6.4',
      'Content-Length',
      '12',
      'X-Ollama-Key',
      'instance-key',
    ])
  })

  it('drops hop-by-hop headers coming down and keeps the rest', () => {
    expect(
      clientResponseHeaders({
        'content-type': 'application/x-ndjson',
        'transfer-encoding': 'chunked',
        connection: 'keep-alive, x-hop',
        'keep-alive': 'timeout=4',
        'x-hop': '1',
        date: 'Mon, 30 Nov 2026 00:00:00 GMT',
        'set-cookie': ['a=1', 'b=2'],
      }),
    ).toEqual({
      'content-type': 'application/x-ndjson',
      date: 'Mon, 30 Nov 2026 00:00:00 GMT',
      'set-cookie': ['a=1', 'b=2'],
    })
  })
})
