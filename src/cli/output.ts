import { Secret } from '../shared/index.js'
import type { CliIo, CliOutput } from './io.js'
import { colorEnabled, createStyle, type Style } from './style.js'

const REDACTED = '[redacted]'
/** Shorter values are too likely to be ordinary words to be replaced everywhere. */
const MIN_REDACTED_LENGTH = 8

/**
 * Everything the CLI prints goes through here. In `--json` mode stdout carries exactly one JSON
 * object and human lines go to stderr instead. Every write is scrubbed of the known secret
 * values (credentials, Ollama key) as a last line of defence.
 */
export class Output {
  readonly json: boolean
  /** Styling for stdout and for stderr (each on only when that stream is a colour terminal). */
  readonly outStyle: Style
  readonly errStyle: Style
  readonly #io: CliIo
  readonly #secrets = new Set<string>()
  #jsonWritten = false

  constructor(io: CliIo, options: { json: boolean }) {
    this.#io = io
    this.json = options.json
    this.outStyle = createStyle(colorEnabled(io.stdout, io.env))
    this.errStyle = createStyle(colorEnabled(io.stderr, io.env))
  }

  get stdout(): CliOutput {
    return this.#io.stdout
  }

  get stderr(): CliOutput {
    return this.#io.stderr
  }

  /** Whether the JSON object has been written (nothing else may follow on stdout). */
  get jsonWritten(): boolean {
    return this.#jsonWritten
  }

  /** Remembers a secret value so no output ever shows it. */
  addSecret(value: string | Secret | undefined | null): void {
    const text = value instanceof Secret ? value.reveal() : value
    if (text && text.length >= MIN_REDACTED_LENGTH) this.#secrets.add(text)
  }

  scrub(text: string): string {
    let out = text
    for (const secret of this.#secrets) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED)
    }
    return out
  }

  /** Raw text to stdout (scrubbed). */
  writeOut(text: string): void {
    this.#io.stdout.write(this.scrub(text))
  }

  /** Raw text to stderr (scrubbed). */
  writeErr(text: string): void {
    this.#io.stderr.write(this.scrub(text))
  }

  /** A human line: stdout, or stderr in --json mode so stdout stays one JSON object. */
  line(text = ''): void {
    if (this.json) this.writeErr(`${text}\n`)
    else this.writeOut(`${text}\n`)
  }

  /** The command's one JSON object. */
  writeJson(value: unknown): void {
    if (this.#jsonWritten) throw new Error('a command wrote two JSON objects')
    this.#jsonWritten = true
    this.writeOut(`${JSON.stringify(value, null, 2)}\n`)
  }

  /** Information for people that is not the command's result: always stderr. */
  note(text: string): void {
    this.writeErr(`${text}\n`)
  }

  warn(text: string): void {
    this.writeErr(`${this.errStyle.yellow('exollama: warning:')} ${oneLine(text)}\n`)
  }

  /** The one error line. */
  error(text: string): void {
    this.writeErr(`${this.errStyle.red('exollama:')} ${oneLine(text)}\n`)
  }
}

/** Collapses whitespace and newlines, so a message stays on one line. */
export function oneLine(text: string, max = 1000): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}
