import type { IncomingHttpHeaders } from 'node:http'
import { Secret } from '../shared/index.js'

/**
 * The client key a request presents, in any of the forms Ollama and OpenAI clients can send:
 * `Authorization: Bearer K`, `x-api-key: K` (Anthropic-style SDKs) or `X-Ollama-Key: K`.
 * Returned as a Secret so it cannot reach a log by accident.
 */
export function presentedKey(headers: IncomingHttpHeaders): Secret | undefined {
  const auth = headers.authorization
  if (auth !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (match?.[1]) return new Secret(match[1])
  }
  const apiKey = headers['x-api-key']
  if (typeof apiKey === 'string' && apiKey.trim()) return new Secret(apiKey.trim())
  const ollamaKey = headers['x-ollama-key']
  if (typeof ollamaKey === 'string' && ollamaKey.trim()) return new Secret(ollamaKey.trim())
  return undefined
}
