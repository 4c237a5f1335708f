import { execFile } from 'node:child_process'
import path from 'node:path'
import type { CloudFile } from './cloud-config.js'

/**
 * The on-VM watchdog, emulated by running the REAL script from write_files. The VM finds it the
 * way systemd would: a `.timer` unit in write_files, its `.service` (ExecStart, EnvironmentFile)
 * and the timer's schedule. Each tick runs the script's `decide` mode (its `run` mode would call
 * `systemctl poweroff` and read /proc/uptime, which only a real VM has) with the emulated
 * uptime, the VM clock, the activity log nginx wrote, and the open upstream connections.
 */

export interface WatchdogUnit {
  /** The script's VM path (the service's ExecStart program). */
  scriptPath: string
  /** The service's EnvironmentFile (recipe.env), if any. */
  environmentFile: string | undefined
  /** OnBootSec and OnUnitActiveSec of the timer. */
  firstMs: number
  intervalMs: number
}

const UNIT_MS: Record<string, number> = {
  us: 0.001,
  usec: 0.001,
  ms: 1,
  msec: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
}

/** A systemd time span ("1min", "90", "1min 30s") in ms; undefined when unreadable. */
export function parseTimeSpan(text: string): number | undefined {
  const parts = text.trim().split(/\s+(?=\d)/)
  let total = 0
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(part.trim())
    if (!m?.[1]) return undefined
    const unit = m[2] === '' || m[2] === undefined ? 's' : m[2]
    const factor = UNIT_MS[unit]
    if (factor === undefined) return undefined
    total += Number(m[1]) * factor
  }
  return total
}

/** `Key=value` lines of one section of a systemd unit. */
function unitSection(text: string, section: string): Map<string, string> {
  const out = new Map<string, string>()
  let current = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('[')) current = line
    else if (current === `[${section}]`) {
      const eq = line.indexOf('=')
      if (eq > 0) out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim())
    }
  }
  return out
}

/** The watchdog timer and service among write_files (the first timer whose service runs a written script). */
export function findWatchdogUnit(files: ReadonlyMap<string, CloudFile>): WatchdogUnit | undefined {
  for (const file of files.values()) {
    const m = /^\/etc\/systemd\/system\/([^/]+)\.timer$/.exec(file.path)
    if (!m?.[1]) continue
    const service = files.get(`/etc/systemd/system/${m[1]}.service`)
    if (!service) continue
    const serviceSection = unitSection(service.content.toString('utf8'), 'Service')
    const program = serviceSection
      .get('ExecStart')
      ?.replace(/^[-@:+!]+/, '')
      .split(/\s+/)[0]
    if (!program || !files.has(program)) continue
    const timer = unitSection(file.content.toString('utf8'), 'Timer')
    const interval = parseTimeSpan(timer.get('OnUnitActiveSec') ?? '') ?? 60_000
    const first = parseTimeSpan(timer.get('OnBootSec') ?? '') ?? interval
    const envFile = serviceSection.get('EnvironmentFile')?.replace(/^-/, '')
    return {
      scriptPath: program,
      environmentFile: envFile && path.isAbsolute(envFile) ? envFile : undefined,
      firstMs: first,
      intervalMs: interval,
    }
  }
  return undefined
}

export interface WatchdogInputs {
  bash: string
  /** Host paths. */
  script: string
  activityLog: string
  bootStatus: string
  uptimeS: number
  nowS: number
  inFlight: number
  idleS: string
  graceS: string
  maxLifetimeS: string
}

export interface WatchdogDecision {
  /** What the script printed, e.g. "poweroff idle idle_s=70 limit_s=70 since=request". */
  line: string
  poweroff: boolean
}

/** Runs `<script> decide …` and returns its decision; rejects when the script fails. */
export function runWatchdogDecide(inputs: WatchdogInputs): Promise<WatchdogDecision> {
  const args = [
    inputs.script,
    'decide',
    '--log',
    inputs.activityLog,
    '--boot-status',
    inputs.bootStatus,
    '--uptime',
    String(Math.max(0, Math.floor(inputs.uptimeS))),
    '--now',
    String(Math.floor(inputs.nowS)),
    '--in-flight',
    String(inputs.inFlight),
    '--idle',
    inputs.idleS,
    '--grace',
    inputs.graceS,
    '--max-lifetime',
    inputs.maxLifetimeS,
  ]
  return new Promise((resolve, reject) => {
    execFile(
      inputs.bash,
      args,
      { timeout: 20_000, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (error) {
          const detail = `${stderr}`.trim().split('\n')[0] ?? error.message
          reject(new Error(`the watchdog script failed: ${detail}`, { cause: error }))
          return
        }
        const line = stdout.trim().split('\n').at(-1) ?? ''
        resolve({ line, poweroff: line.startsWith('poweroff') })
      },
    )
  })
}
