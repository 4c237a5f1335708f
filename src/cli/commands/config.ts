import type { Command } from 'commander'
import {
  describeSettings,
  publicSettingsView,
  setSetting,
  settingNameOf,
  unsetSetting,
  configFilePath,
  type Config,
  type ResolvedSetting,
  type SettingSource,
} from '../../config/index.js'
import { action, type ActionHost } from '../action.js'
import { examples } from '../help-text.js'
import type { CommandContext } from '../context.js'
import { describeCredentials } from '../credentials.js'
import { CliUsageError } from '../errors.js'
import { formatTable } from '../format.js'
import type { CliInput } from '../io.js'

/** Where a value came from, in words (locked ones say so). */
function sourceText(setting: ResolvedSetting, config: Config): string {
  const words: Record<SettingSource, string> = {
    default: 'default',
    'exo-cli': `exo CLI (${config.exoCliConfigFile ?? 'exoscale.toml'})`,
    file: 'config file',
    env: 'environment (locked)',
    flag: 'command line (locked)',
  }
  return words[setting.source]
}

/** One value from stdin: its first line, without the line break (a terminal ends it with Enter). */
async function readValueFromStdin(ctx: CommandContext, name: string): Promise<string> {
  const stdin: CliInput | undefined = ctx.io.stdin
  if (!stdin) throw new CliUsageError('VALUE "-" reads the value from stdin, but there is no stdin')
  if (stdin.isTTY) ctx.out.note(`value for ${name} (then Enter):`)
  let text = ''
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    if (text.includes('\n') || text.length > 16_384) break
  }
  return text.split(/\r?\n/)[0] ?? ''
}

const EFFECT_NOTE = {
  immediate: '',
  'next-instance': 'applies to the next instance created or started',
  restart: 'restart the gateway ("exollama serve") to apply it',
} as const

function settingsHelp(): string {
  const lines = [
    '',
    'Settings (the names are environment variables; the environment wins over the file):',
  ]
  for (const d of describeSettings()) {
    lines.push(`  ${d.name}${d.default ? ` (default ${d.default})` : ''}`)
    lines.push(`      ${d.description}`)
    lines.push(`      accepts ${d.expected}`)
  }
  return `${lines.join('\n')}\n`
}

function get(ctx: CommandContext, input: string): void {
  const name = settingNameOf(input)
  const config = ctx.config()
  const setting = config.settings[name]
  const view = publicSettingsView(config)[name]
  if (ctx.out.json) {
    ctx.out.writeJson(
      setting.secret
        ? { name, secret: true, ...view, source: setting.source }
        : { name, secret: false, ...view },
    )
    return
  }
  if (setting.secret) {
    ctx.out.line(setting.value === undefined ? 'not set' : `set (${sourceText(setting, config)})`)
  } else if (setting.text === null || setting.text === '') {
    ctx.out.note(`${name} is not set`)
  } else {
    ctx.out.line(setting.text)
  }
}

async function set(ctx: CommandContext, input: string, raw: string): Promise<void> {
  const value = raw === '-' ? await readValueFromStdin(ctx, input) : raw
  const dataDir = ctx.dataDir()
  // Validates first: a rejected value throws one line and leaves the file untouched.
  const change = setSetting(dataDir, input, value, { env: ctx.io.env })
  const file = configFilePath(dataDir)
  const effect = describeSettings().find((d) => d.name === change.name)?.effect ?? 'immediate'
  const secret = change.text === '[redacted]'
  if (ctx.out.json) {
    ctx.out.writeJson({
      name: change.name,
      ...(secret ? { set: true } : { text: change.text }),
      config_file: file,
      shadowed_by: change.shadowedBy,
      effect,
    })
  } else {
    ctx.out.line(
      secret ? `${change.name} saved to ${file}` : `${change.name}=${change.text} saved to ${file}`,
    )
    if (EFFECT_NOTE[effect]) ctx.out.note(`note: ${EFFECT_NOTE[effect]}`)
  }
  if (change.shadowedBy === 'env') {
    ctx.out.warn(
      `${change.name} is also set in the environment, which wins: the saved value applies once that variable is unset`,
    )
  }
}

function unset(ctx: CommandContext, input: string): void {
  const dataDir = ctx.dataDir()
  const name = settingNameOf(input)
  const removed = unsetSetting(dataDir, name)
  const file = configFilePath(dataDir)
  if (ctx.out.json) {
    ctx.out.writeJson({ name, removed, config_file: file })
    return
  }
  ctx.out.line(removed ? `${name} removed from ${file}` : `${name} was not in ${file}`)
  if (ctx.io.env[name] !== undefined && ctx.io.env[name] !== '') {
    ctx.out.note(`note: ${name} is still set in the environment`)
  }
}

function list(ctx: CommandContext): void {
  const config = ctx.config()
  const credentials = describeCredentials(config)
  if (ctx.out.json) {
    ctx.out.writeJson({
      data_dir: config.dataDir,
      config_file: config.configFile,
      exo_cli_config_file: config.exoCliConfigFile,
      credentials: { api_key: credentials.api_key, api_secret: credentials.api_secret },
      settings: publicSettingsView(config),
    })
    return
  }
  const s = ctx.out.outStyle
  ctx.out.line(`${s.dim('config file')}  ${config.configFile}`)
  ctx.out.line(`${s.dim('credentials')}  ${credentials.summary}`)
  ctx.out.line('')
  const rows: string[][] = [[s.bold('NAME'), s.bold('VALUE'), s.bold('SOURCE')]]
  for (const d of describeSettings()) {
    const setting = config.settings[d.name]
    const value = setting.secret
      ? setting.value === undefined
        ? 'not set'
        : 'set'
      : setting.text || '-'
    const source = setting.secret && setting.value === undefined ? '-' : sourceText(setting, config)
    const shownValue = setting.source === 'default' ? s.dim(value) : value
    rows.push([d.name, shownValue, setting.locked ? s.yellow(source) : source])
  }
  for (const line of formatTable(rows)) ctx.out.line(line)
}

/** `exollama config get|set|unset|list`: the settings, keyed by environment variable name. */
export function registerConfig(program: Command, host: ActionHost): void {
  const config = program
    .command('config')
    .description('read and change settings (get, set, unset, list)')
    .addHelpText(
      'after',
      examples(
        ['exollama config list', 'every setting, its value and where it comes from'],
        [
          'exollama config set EXOSCALE_IDLE_TIMEOUT 600',
          'idle for 10 minutes before the idle action',
        ],
        ['exollama config get EXOSCALE_ZONE', 'one value, for scripts'],
        ['exollama config unset EXOSCALE_IDLE_TIMEOUT', 'back to the default'],
      ),
    )

  config
    .command('get')
    .description('print one setting (secrets only as set / not set)')
    .argument('<NAME>', 'a setting name such as EXOSCALE_ZONE')
    .option('--json', 'print the setting as one JSON object')
    .addHelpText(
      'after',
      examples(
        ['exollama config get EXOSCALE_IDLE_TIMEOUT', 'prints 1800 (the default) or the set value'],
        [
          'exollama config get EXOSCALE_API_SECRET',
          'prints "set (…)" or "not set", never the value',
        ],
      ),
    )
    .action(action(host, 'config get', async (ctx, [name = '']) => get(ctx, name)))

  config
    .command('set')
    .description('validate and store a setting in the config file')
    .argument('<NAME>', 'a setting name such as EXOSCALE_IDLE_TIMEOUT')
    .argument(
      '<VALUE>',
      'the value, or "-" to read it from stdin (keeps secrets out of shell history)',
    )
    .option('--json', 'print the stored change as one JSON object')
    .addHelpText(
      'after',
      examples(
        [
          'exollama config set EXOSCALE_IDLE_TIMEOUT 600',
          'seconds without requests before the idle action',
        ],
        [
          'exollama config set EXOLLAMA_IDLE_ACTION stop',
          'power off instead of deleting when idle',
        ],
        ['exollama config set EXOSCALE_INSTANCE_TYPE gpua5000.small', 'a GPU instance'],
        ['printf %s "$SECRET" | exollama config set EXOSCALE_API_SECRET -', 'a secret from stdin'],
      ) + settingsHelp(),
    )
    .action(
      action(host, 'config set', async (ctx, [name = '', value = '']) => set(ctx, name, value)),
    )

  config
    .command('unset')
    .description('remove a setting from the config file')
    .argument('<NAME>', 'a setting name')
    .option('--json', 'print the result as one JSON object')
    .addHelpText(
      'after',
      examples(['exollama config unset EXOLLAMA_MODEL', 'stop preloading models']),
    )
    .action(action(host, 'config unset', async (ctx, [name = '']) => unset(ctx, name)))

  config
    .command('list')
    .description('list every setting with its value and source')
    .option('--json', 'print the settings as one JSON object (secrets only as {set, locked})')
    .addHelpText(
      'after',
      examples(
        ['exollama config list', 'a table of NAME, VALUE, SOURCE'],
        ['exollama config list --json | jq .settings.EXOSCALE_ZONE', 'one setting with its source'],
      ),
    )
    .action(action(host, 'config list', async (ctx) => list(ctx)))
}
