import { INSTANCE_STATES, type InstanceState, type StatusObject } from '../app/index.js'
import { formatListenAddress, type Config } from '../config/index.js'
import { describeCredentials } from './credentials.js'
import { formatBar, formatDuration, formatMoney, formatSeconds, formatTable } from './format.js'
import type { Style } from './style.js'

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function str(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback
}

/**
 * The status object of DESIGN §2 with every field present, whatever the source left out:
 * `models` an array of names, `cost` numbers or null, `idle` from the config when missing.
 */
export function completeStatus(raw: Partial<StatusObject>, config: Config): StatusObject {
  const state: InstanceState = (INSTANCE_STATES as readonly string[]).includes(raw.state ?? '')
    ? (raw.state as InstanceState)
    : 'error'
  const instance = raw.instance
    ? {
        id: str(raw.instance.id, ''),
        name: str(raw.instance.name, config.values.EXOLLAMA_NAME),
        zone: str(raw.instance.zone, config.values.EXOSCALE_ZONE),
        type: str(raw.instance.type, config.values.EXOSCALE_INSTANCE_TYPE),
        ip: typeof raw.instance.ip === 'string' ? raw.instance.ip : null,
        created_at: str(raw.instance.created_at, ''),
      }
    : null
  const idle = raw.idle
  const status: StatusObject = {
    state,
    simulated: raw.simulated === true,
    instance,
    idle: {
      timeout_s: num(idle?.timeout_s) ?? config.values.EXOSCALE_IDLE_TIMEOUT,
      remaining_s: num(idle?.remaining_s),
      action:
        idle?.action === 'stop' || idle?.action === 'destroy'
          ? idle.action
          : config.values.EXOLLAMA_IDLE_ACTION,
    },
    models: Array.isArray(raw.models)
      ? raw.models.filter((m): m is string => typeof m === 'string')
      : [],
    cost: {
      currency: str(raw.cost?.currency, config.values.EXOLLAMA_CURRENCY),
      session: num(raw.cost?.session),
      month: num(raw.cost?.month),
    },
  }
  if (raw.boot) status.boot = raw.boot
  if (raw.error) status.error = raw.error
  return status
}

/** The state word, coloured by health. */
export function styleState(state: InstanceState, style: Style): string {
  switch (state) {
    case 'ready':
      return style.green(state)
    case 'error':
      return style.red(state)
    case 'provisioning':
    case 'booting':
    case 'stopping':
    case 'destroying':
      return style.yellow(state)
    default:
      return style.bold(state)
  }
}

/** "exollama", or "exollama (NAME)" for a non-default EXOLLAMA_NAME. */
function heading(name: string): string {
  return name === 'exollama' ? 'exollama' : `exollama (${name})`
}

/** `status` for people: state, instance, boot, idle, models, cost, credentials, gateway. */
export function renderStatus(
  status: StatusObject,
  config: Config,
  style: Style,
  now: number,
): string[] {
  const lines: string[] = []
  const simulated = status.simulated
    ? `  ${style.yellow('(simulated: nothing runs on Exoscale)')}`
    : ''
  lines.push(
    `${style.bold(heading(config.values.EXOLLAMA_NAME))}: ${styleState(status.state, style)}${simulated}`,
  )
  const rows: string[][] = []
  const inst = status.instance
  if (inst) {
    const created = Date.parse(inst.created_at)
    const age = Number.isFinite(created) ? `, created ${formatDuration(now - created)} ago` : ''
    rows.push(['instance', `${inst.name} ${style.dim(inst.id)}`])
    rows.push(['', `${inst.type} in ${inst.zone}, ip ${inst.ip ?? 'none yet'}${age}`])
  } else {
    rows.push(['instance', 'none (the first request or "exollama start" creates one)'])
  }
  if (status.boot) {
    const b = status.boot
    const err = b.error ? `: ${style.red(b.error)}` : ''
    rows.push([
      'boot',
      `${b.state}, ${b.phase} ${formatBar(b.percent, 16)} ${b.percent}%${b.gpu ? ' (GPU)' : ''}${err}`,
    ])
  }
  if (status.error)
    rows.push(['error', style.red(`${status.error.message} [${status.error.code}]`)])
  const remaining =
    status.idle.remaining_s === null ? '' : `, ${formatSeconds(status.idle.remaining_s)} left`
  rows.push([
    'idle',
    `${status.idle.action} after ${formatSeconds(status.idle.timeout_s)} without requests${remaining}`,
  ])
  rows.push(['models', status.models.length ? status.models.join(', ') : 'none'])
  const session =
    status.cost.session === null
      ? 'no instance running'
      : `${formatMoney(status.cost.session, status.cost.currency)} for the current instance so far`
  const month =
    status.cost.month === null
      ? ''
      : `, ${formatMoney(status.cost.month, status.cost.currency)} this month`
  rows.push(['cost', `${session}${month}`])
  rows.push(['credentials', describeCredentials(config).summary])
  rows.push([
    'gateway',
    `http://${formatListenAddress(config.values.EXOLLAMA_LISTEN)} (EXOLLAMA_LISTEN)`,
  ])
  for (const line of formatTable(rows.map(([k, v]) => [style.dim(k ?? ''), v ?? ''])))
    lines.push(`  ${line}`)
  return lines
}
