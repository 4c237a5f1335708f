/**
 * Reads token usage from a response without buffering it: keeps the first bytes (where every
 * chunk names the model) and a short tail (where Ollama's final chunk and OpenAI's `usage` sit),
 * and parses only those when the response ends. Works for NDJSON, SSE and plain JSON alike.
 */
export interface UsageFigures {
  model: string | null
  promptTokens: number | null
  evalTokens: number | null
}

const HEAD_BYTES = 1024
const TAIL_BYTES = 8192

const MODEL_RE = /"model"\s*:\s*("(?:[^"\\]|\\.)*")/g
// Ollama's metrics (final chunk, /api/embed) first, then OpenAI's usage object.
const PROMPT_RE = /"(?:prompt_eval_count|prompt_tokens)"\s*:\s*(\d+)/g
const EVAL_RE = /"(?:eval_count|completion_tokens)"\s*:\s*(\d+)/g

function lastMatch(re: RegExp, text: string): string | undefined {
  let last: string | undefined
  re.lastIndex = 0
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1]
  return last
}

function firstMatch(re: RegExp, text: string): string | undefined {
  re.lastIndex = 0
  return re.exec(text)?.[1]
}

// The text is read as latin1 (cheap, byte for byte); a model name is decoded back from UTF-8.
function parseModel(quoted: string | undefined): string | null {
  if (quoted === undefined) return null
  const utf8 = Buffer.from(quoted, 'latin1').toString('utf8')
  if (!utf8.includes('\\')) return utf8.slice(1, -1)
  try {
    const value: unknown = JSON.parse(utf8)
    return typeof value === 'string' ? value : null
  } catch {
    return null
  }
}

export class UsageTap {
  #head: Buffer | undefined
  #tail: Buffer[] = []
  #tailBytes = 0

  /** Notes a chunk (cheap: keeps references to the first chunk and the last few). */
  push(chunk: Buffer): void {
    // A reference, not a copy: chunks are never reused once handed over.
    if (this.#head === undefined)
      this.#head = chunk.length > HEAD_BYTES ? chunk.subarray(0, HEAD_BYTES) : chunk
    this.#tail.push(chunk)
    this.#tailBytes += chunk.length
    while (
      this.#tail.length > 1 &&
      this.#tailBytes - (this.#tail[0] as Buffer).length >= TAIL_BYTES
    ) {
      this.#tailBytes -= (this.#tail.shift() as Buffer).length
    }
  }

  /** The figures found; null where the response did not carry them. */
  result(): UsageFigures {
    if (this.#head === undefined) return { model: null, promptTokens: null, evalTokens: null }
    let tail =
      this.#tail.length === 1
        ? (this.#tail[0] as Buffer)
        : Buffer.concat(this.#tail, this.#tailBytes)
    if (tail.length > TAIL_BYTES) tail = tail.subarray(tail.length - TAIL_BYTES)
    const tailText = tail.toString('latin1')
    const prompt = lastMatch(PROMPT_RE, tailText)
    const evalCount = lastMatch(EVAL_RE, tailText)
    const head =
      this.#head === this.#tail[0] && tail.length === this.#head.length
        ? tailText
        : this.#head.toString('latin1')
    const model =
      parseModel(firstMatch(MODEL_RE, head)) ?? parseModel(lastMatch(MODEL_RE, tailText))
    return {
      model,
      promptTokens: prompt === undefined ? null : Number(prompt),
      evalTokens: evalCount === undefined ? null : Number(evalCount),
    }
  }
}
