/**
 * Reads token usage from a response without buffering it: keeps the first bytes (where every
 * chunk names the model) and a short tail (where Ollama's final chunk and OpenAI's `usage` sit),
 * and searches only those, as bytes, when the response ends. Works for NDJSON, SSE and JSON.
 */
export interface UsageFigures {
  model: string | null
  promptTokens: number | null
  evalTokens: number | null
}

const HEAD_BYTES = 1024
const TAIL_BYTES = 8192

// Ollama's metrics (final chunk, /api/embed) first, then OpenAI's usage object.
// Needles as bytes, encoded once (a string needle is re-encoded on every search).
const PROMPT_KEYS = [Buffer.from('"prompt_eval_count"'), Buffer.from('"prompt_tokens"')]
const EVAL_KEYS = [Buffer.from('"eval_count"'), Buffer.from('"completion_tokens"')]
const MODEL_KEY = Buffer.from('"model"')

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
}

/** Index just past `key` and the colon after it (JSON whitespace allowed), or -1. */
function valueStart(buf: Buffer, keyAt: number, keyLength: number): number {
  let i = keyAt + keyLength
  while (isSpace(buf[i])) i++
  if (buf[i] !== COLON) return -1
  i++
  while (isSpace(buf[i])) i++
  return i
}

/** The integer after the last occurrence of any of `keys` (the latest one wins), or null. */
function lastCount(buf: Buffer, keys: readonly Buffer[]): number | null {
  let best = -1
  let bestKey = 0
  for (const key of keys) {
    const at = buf.lastIndexOf(key)
    if (at > best) {
      best = at
      bestKey = key.length
    }
  }
  if (best < 0) return null
  let i = valueStart(buf, best, bestKey)
  if (i < 0) return null
  let value = 0
  let digits = 0
  for (; i < buf.length; i++) {
    const c = buf[i] as number
    if (c < 0x30 || c > 0x39) break
    value = value * 10 + (c - 0x30)
    digits++
  }
  return digits > 0 ? value : null
}

/** The string value of `"model"` at its first (or last) occurrence, or null. */
function modelIn(buf: Buffer, last: boolean): string | null {
  const at = last
    ? buf.lastIndexOf(MODEL_KEY, undefined, 'latin1')
    : buf.indexOf(MODEL_KEY, 0, 'latin1')
  if (at < 0) return null
  const open = valueStart(buf, at, MODEL_KEY.length)
  if (open < 0 || buf[open] !== QUOTE) return null
  let escaped = false
  for (let i = open + 1; i < buf.length; i++) {
    const c = buf[i]
    if (c === BACKSLASH) escaped = true
    else if (c === QUOTE) {
      const raw = buf.toString('utf8', open, i + 1)
      if (!escaped) return raw.slice(1, -1)
      try {
        const value: unknown = JSON.parse(raw)
        return typeof value === 'string' ? value : null
      } catch {
        return null
      }
    }
    if (c === BACKSLASH && buf[i + 1] !== undefined) i++ // skip the escaped character
  }
  return null
}

export class UsageTap {
  #head: Buffer | undefined
  #tail: Buffer[] = []
  #first = 0
  #tailBytes = 0

  /** Notes a chunk (cheap: keeps references to the first chunk and the last few, copies nothing). */
  push(chunk: Buffer): void {
    // A reference, not a copy: chunks are never reused once handed over.
    if (this.#head === undefined)
      this.#head = chunk.length > HEAD_BYTES ? chunk.subarray(0, HEAD_BYTES) : chunk
    this.#tail.push(chunk)
    this.#tailBytes += chunk.length
    while (this.#tail.length - this.#first > 1) {
      const oldest = this.#tail[this.#first] as Buffer
      if (this.#tailBytes - oldest.length < TAIL_BYTES) break
      this.#tailBytes -= oldest.length
      this.#first++
    }
    if (this.#first > 64) {
      this.#tail.splice(0, this.#first)
      this.#first = 0
    }
  }

  /** The figures found; null where the response did not carry them. */
  result(): UsageFigures {
    if (this.#head === undefined) return { model: null, promptTokens: null, evalTokens: null }
    const kept = this.#tail.length - this.#first
    let tail =
      kept === 1
        ? (this.#tail[this.#first] as Buffer)
        : Buffer.concat(
            this.#first === 0 ? this.#tail : this.#tail.slice(this.#first),
            this.#tailBytes,
          )
    if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES)
    return {
      model: modelIn(this.#head, false) ?? modelIn(tail, true),
      promptTokens: lastCount(tail, PROMPT_KEYS),
      evalTokens: lastCount(tail, EVAL_KEYS),
    }
  }
}
