import { describe, expect, it } from 'vitest'
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js'

describe('headers', () => {
  it('drops hop-by-hop, host, client credentials and browser context going up; adds the instance key', () => {
    const headers = {
      host: 'localhost:11434',
      'content-type': 'application/json',
      authorization: 'Bearer client-key',
      'x-api-key': 'client-key',
      'x-ollama-key': 'client-key',
      cookie: 'a=b',
      origin: 'http://localhost:3000',
      referer: 'http://localhost:3000/app',
      connection: 'keep-alive, X-Private',
      'x-private': 'hop',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      te: 'trailers',
      upgrade: 'websocket',
      'proxy-authorization': 'Basic x',
      'accept-encoding': 'gzip',
      expect: '100-continue',
      'user-agent': 'ollama-js/0.6.4',
      'content-length': '12',
      'x-multi': ['a', 'b'],
    }
    expect(upstreamRequestHeaders(headers, { 'X-Ollama-Key': 'instance-key' })).toEqual([
      'content-type',
      'application/json',
      'user-agent',
      'ollama-js/0.6.4',
      'content-length',
      '12',
      'x-multi',
      'a',
      'x-multi',
      'b',
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
