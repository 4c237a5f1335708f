import { ExollamaError } from '../../shared/index.js'

/**
 * A reader for nginx's configuration syntax (directives, blocks, quoted strings, comments), as
 * nginx's own tokenizer reads it: the emulated VM uses it to find the files and addresses an
 * instance config refers to, and the Node stand-in interprets the parsed tree.
 */

/** One directive: `name arg…;` or `name arg… { … }`. */
export interface NginxDirective {
  name: string
  /** Arguments with quotes removed and nginx's escapes applied (see unescape). */
  args: string[]
  /** The directives inside `{ … }`, when the directive has a block. */
  block?: NginxDirective[]
  /** 1-based line of the directive's name. */
  line: number
}

/** The config text is not valid nginx syntax. */
export class NginxSyntaxError extends ExollamaError {
  override name = 'NginxSyntaxError'
  constructor(message: string) {
    super('vm_nginx_syntax', message, { kind: 'internal' })
  }
}

interface Token {
  kind: 'word' | '{' | '}' | ';'
  text: string
  line: number
}

/** nginx's escapes: `\"`, `\'`, `\\` lose the backslash, `\t` `\r` `\n` are control characters, any other backslash stays (regexes keep `\.`, `\d`). */
function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, ch: string) =>
    ch === 'n'
      ? '\n'
      : ch === 't'
        ? '\t'
        : ch === 'r'
          ? '\r'
          : ch === '"' || ch === "'" || ch === '\\'
            ? ch
            : `\\${ch}`,
  )
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let line = 1
  let i = 0
  while (i < text.length) {
    const ch = text[i] as string
    if (ch === '\n') {
      line++
      i++
      continue
    }
    if (/\s/.test(ch)) {
      i++
      continue
    }
    if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++
      continue
    }
    if (ch === '{' || ch === '}' || ch === ';') {
      tokens.push({ kind: ch, text: ch, line })
      i++
      continue
    }
    const start = line
    if (ch === '"' || ch === "'") {
      let j = i + 1
      let raw = ''
      while (j < text.length && text[j] !== ch) {
        if (text[j] === '\\' && j + 1 < text.length) {
          raw += text.slice(j, j + 2)
          j += 2
          continue
        }
        if (text[j] === '\n') line++
        raw += text[j]
        j++
      }
      if (j >= text.length) throw new NginxSyntaxError(`unterminated string on line ${start}`)
      tokens.push({ kind: 'word', text: unescape(raw), line: start })
      i = j + 1
      continue
    }
    let j = i
    let raw = ''
    while (j < text.length) {
      const c = text[j] as string
      if (c === '\\' && j + 1 < text.length) {
        raw += text.slice(j, j + 2)
        j += 2
        continue
      }
      // `${name}` is a variable, not a block.
      if (c === '{' && text[j - 1] === '$') {
        const close = text.indexOf('}', j)
        if (close < 0) throw new NginxSyntaxError(`unterminated \${ on line ${line}`)
        raw += text.slice(j, close + 1)
        j = close + 1
        continue
      }
      if (/\s/.test(c) || c === '{' || c === '}' || c === ';') break
      raw += c
      j++
    }
    tokens.push({ kind: 'word', text: unescape(raw), line })
    i = j
  }
  return tokens
}

/** Parses nginx config text into directives. Throws NginxSyntaxError on broken syntax. */
export function parseNginxConf(text: string): NginxDirective[] {
  const tokens = tokenize(text)
  let pos = 0
  const parseBlock = (nested: boolean): NginxDirective[] => {
    const out: NginxDirective[] = []
    for (;;) {
      const token = tokens[pos]
      if (!token) {
        if (nested) throw new NginxSyntaxError('unexpected end of file, expecting "}"')
        return out
      }
      if (token.kind === '}') {
        if (!nested) throw new NginxSyntaxError(`unexpected "}" on line ${token.line}`)
        pos++
        return out
      }
      if (token.kind !== 'word') {
        throw new NginxSyntaxError(`unexpected "${token.text}" on line ${token.line}`)
      }
      pos++
      const directive: NginxDirective = { name: token.text, args: [], line: token.line }
      for (;;) {
        const next = tokens[pos]
        if (!next) throw new NginxSyntaxError(`directive "${token.text}" is not terminated`)
        pos++
        if (next.kind === 'word') directive.args.push(next.text)
        else if (next.kind === ';') break
        else if (next.kind === '{') {
          directive.block = parseBlock(true)
          break
        } else throw new NginxSyntaxError(`unexpected "}" on line ${next.line}`)
      }
      out.push(directive)
    }
  }
  return parseBlock(false)
}

/** Every directive in the tree, depth first, with the chain of blocks that contains it. */
export function* walkNginxConf(
  directives: readonly NginxDirective[],
  parents: readonly NginxDirective[] = [],
): Generator<{ directive: NginxDirective; parents: readonly NginxDirective[] }> {
  for (const directive of directives) {
    yield { directive, parents }
    if (directive.block) yield* walkNginxConf(directive.block, [...parents, directive])
  }
}
