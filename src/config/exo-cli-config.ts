import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parse as parseToml } from 'smol-toml'
import { z } from 'zod'
import { fileMode } from '../shared/secure-fs.js'
import { exoCliConfigCandidates, type Environment } from './paths.js'

/**
 * Credentials from the exo CLI's `exoscale.toml`, so a user who already ran `exo config` needs no
 * other setup. The format (exoscale/cli cmd/root.go and pkg/account/account.go, read through
 * viper, so keys are case-insensitive):
 *
 * ```toml
 * defaultaccount = "work"
 * [[accounts]]
 * name = "work"
 * key = "EXO…"
 * secret = "…"                      # or: secretCommand = ["pass", "show", "exoscale"]
 * defaultZone = "ch-gva-2"
 * ```
 *
 * The account is `$EXOSCALE_ACCOUNT`, else `defaultaccount`, else the only account. A
 * `secretCommand` runs only when the secret is actually needed (nothing else provides it).
 */
export interface ExoCliAccount {
  /** The file the account was read from. */
  readonly file: string
  /** The account's `name`. */
  readonly account: string
  readonly key: string | undefined
  readonly defaultZone: string | undefined
  /** Whether the account provides a secret (inline or by command). */
  readonly hasSecret: boolean
  /** The secret; runs `secretCommand` on first call. Undefined when it fails or is absent. */
  secret(): string | undefined
}

export interface ExoCliReadResult {
  account: ExoCliAccount | null
  warnings: string[]
}

/** Runs a command and returns its stdout; used for `secretCommand`. */
export type CommandRunner = (argv: readonly string[]) => string

export const defaultCommandRunner: CommandRunner = (argv) => {
  const [command, ...args] = argv
  if (!command) throw new Error('empty command')
  return execFileSync(command, args, {
    encoding: 'utf8',
    timeout: 30_000,
    // stdin stays attached so a password manager can prompt, as with the exo CLI.
    stdio: ['inherit', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024,
  })
}

const accountSchema = z.looseObject({
  name: z.string().optional(),
  key: z.string().optional(),
  secret: z.string().optional(),
  secretcommand: z.union([z.array(z.string()), z.string()]).optional(),
  defaultzone: z.string().optional(),
})

const fileSchema = z.looseObject({
  defaultaccount: z.string().optional(),
  accounts: z.array(accountSchema).optional(),
})

/** Lower-cases keys (viper is case-insensitive: `defaultAccount` and `defaultaccount` are one). */
function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v]),
    )
  }
  return value
}

/**
 * Parses the text of an exoscale.toml and picks the account (`accountName`, else the default,
 * else the only one). Never throws: problems become warnings.
 */
export function parseExoCliConfig(
  text: string,
  file: string,
  options: { accountName?: string | undefined; runCommand?: CommandRunner } = {},
): ExoCliReadResult {
  const warnings: string[] = []
  let raw: unknown
  try {
    raw = parseToml(text)
  } catch {
    return { account: null, warnings: [`ignored the exo CLI config ${file}: it is not valid TOML`] }
  }
  const top = lowerKeys(raw) as Record<string, unknown>
  if (Array.isArray(top.accounts)) top.accounts = top.accounts.map(lowerKeys)
  const parsed = fileSchema.safeParse(top)
  if (!parsed.success) {
    return {
      account: null,
      warnings: [`ignored the exo CLI config ${file}: its accounts are not in the expected form`],
    }
  }
  const accounts = parsed.data.accounts ?? []
  if (accounts.length === 0) return { account: null, warnings }
  const wanted = options.accountName ?? parsed.data.defaultaccount
  const chosen =
    wanted !== undefined && wanted !== ''
      ? accounts.find((a) => a.name === wanted)
      : accounts.length === 1
        ? accounts[0]
        : undefined
  if (!chosen) {
    warnings.push(
      wanted
        ? `ignored the exo CLI config ${file}: it has no account named "${wanted}"`
        : `ignored the exo CLI config ${file}: it has several accounts and no defaultaccount`,
    )
    return { account: null, warnings }
  }
  const name = chosen.name ?? '(unnamed)'
  const command =
    typeof chosen.secretcommand === 'string' ? [chosen.secretcommand] : chosen.secretcommand
  const run = options.runCommand ?? defaultCommandRunner
  let cached: { value: string | undefined } | undefined
  const secret = (): string | undefined => {
    if (cached) return cached.value
    let value: string | undefined
    if (command && command.length > 0) {
      try {
        value = run(command).replace(/\n+$/, '')
        if (value === '') value = undefined
      } catch (error) {
        // Never repeat the command's output: it may contain the secret.
        const status = (error as { status?: unknown }).status
        warnings.push(
          `the secretCommand of exo CLI account "${name}" failed${typeof status === 'number' ? ` (exit ${status})` : ''}; no Exoscale secret from ${file}`,
        )
      }
    } else if (chosen.secret) {
      value = chosen.secret
    }
    cached = { value }
    return value
  }
  return {
    account: {
      file,
      account: name,
      key: chosen.key && chosen.key !== '' ? chosen.key : undefined,
      defaultZone: chosen.defaultzone && chosen.defaultzone !== '' ? chosen.defaultzone : undefined,
      hasSecret: Boolean((command && command.length > 0) || chosen.secret),
      secret,
    },
    warnings,
  }
}

/**
 * Finds and reads the exo CLI config for this environment (see exoCliConfigCandidates). No file
 * is no account, without a warning.
 */
export function readExoCliConfig(
  env: Environment,
  options: { runCommand?: CommandRunner } = {},
): ExoCliReadResult {
  for (const file of exoCliConfigCandidates(env)) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') continue
      return { account: null, warnings: [`could not read the exo CLI config ${file} (${code})`] }
    }
    const accountName =
      env.EXOSCALE_ACCOUNT && env.EXOSCALE_ACCOUNT !== '' ? env.EXOSCALE_ACCOUNT : undefined
    const result = parseExoCliConfig(text, file, {
      accountName,
      ...(options.runCommand ? { runCommand: options.runCommand } : {}),
    })
    const mode = fileMode(file)
    if (
      process.platform !== 'win32' &&
      mode !== undefined &&
      (mode & 0o077) !== 0 &&
      result.account?.hasSecret
    ) {
      result.warnings.push(
        `the exo CLI config ${file} holds a secret and is readable by other users (mode 0${mode.toString(8)}); run "chmod 600 ${file}"`,
      )
    }
    return result
  }
  return { account: null, warnings: [] }
}
