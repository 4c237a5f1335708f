import { inspect } from 'node:util'

const REDACTED = '[redacted]'

/**
 * A secret value that cannot leak by accident: string conversion, JSON and util.inspect all give
 * "[redacted]". Call `reveal()` at the one place that must send it (a signature, a header).
 */
export class Secret {
  readonly #value: string

  constructor(value: string) {
    this.#value = value
  }

  reveal(): string {
    return this.#value
  }

  toString(): string {
    return REDACTED
  }

  toJSON(): string {
    return REDACTED
  }

  [inspect.custom](): string {
    return REDACTED
  }
}

/** Replaces every occurrence of each secret in `text` (for error bodies we did not write). */
export function redactSecrets(
  text: string,
  secrets: Iterable<string | Secret | undefined>,
): string {
  let out = text
  for (const s of secrets) {
    const value = s instanceof Secret ? s.reveal() : s
    if (value && value.length >= 4) out = out.split(value).join(REDACTED)
  }
  return out
}
