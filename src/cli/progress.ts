import { stripVTControlCharacters } from 'node:util'
import type { Progress } from '../app/index.js'
import type { Clock, Timer } from '../shared/index.js'
import { formatBar, formatBytes, formatDuration } from './format.js'
import type { Style } from './style.js'

export interface ProgressDisplayOptions {
  /** Where the display writes (already scrubbed of secrets). */
  write(text: string): void
  /** A terminal: one line redrawn in place. Otherwise one plain line per step. */
  live: boolean
  style: Style
  clock: Clock
  /** When the command started (ms), for elapsed times. */
  startedAt: number
  /** Terminal width; live lines are cut to fit. */
  columns?: number
}

/** Phases after which nothing more is waited for. */
const FINAL_PHASES = new Set(['ready', 'stopped', 'absent', 'destroyed'])
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const TICK_MS = 200

interface PhaseState {
  name: string
  /** Absolute start (ms). */
  startedAt: number
  message?: string
  boot?: { phase: string; percent: number }
}

interface PullState {
  model: string
  status: string
  completed?: number
  total?: number
  /** Last plain-mode quarter printed for this status (0–4). */
  quarter: number
}

function percentOf(completed: number | undefined, total: number | undefined): number | undefined {
  if (completed === undefined || total === undefined || total <= 0) return undefined
  return Math.min(100, Math.floor((completed / total) * 100))
}

/**
 * Renders `Progress` callbacks: on a terminal a live line (spinner, phase, elapsed time, the VM's
 * boot phase with a bar, or a model pull with bytes and percent) and a finished line per phase;
 * elsewhere one plain line per phase, boot step or quarter of a download. Writes no ANSI escape
 * when its style is off (NO_COLOR): the live line is redrawn with a carriage return and spaces.
 */
export class ProgressDisplay {
  readonly #o: ProgressDisplayOptions
  #phase: PhaseState | undefined
  #pull: PullState | undefined
  #liveLength = 0
  #frame = 0
  #ticker: Timer | undefined
  #stopped = false

  constructor(options: ProgressDisplayOptions) {
    this.#o = options
  }

  update(progress: Progress): void {
    if (this.#stopped) return
    if (progress.kind === 'phase') this.#onPhase(progress)
    else this.#onPull(progress)
    if (this.#o.live) {
      this.#render()
      this.#tick()
    }
  }

  /** The work succeeded: close the current step with a check mark and its duration. */
  finish(): void {
    if (this.#stopped) return
    this.#closeStep(true)
    this.#stop()
  }

  /**
   * The work failed or was interrupted: on a terminal the current step ends with a cross (and a
   * line break, so the error printed next is a clean last line); plain output adds nothing.
   */
  abort(): void {
    if (this.#stopped) return
    this.#closeStep(false)
    this.#stop()
  }

  #stop(): void {
    this.#stopped = true
    this.#ticker?.cancel()
    this.#ticker = undefined
  }

  #elapsed(): number {
    return this.#o.clock.now() - this.#o.startedAt
  }

  #stamp(elapsedMs: number): string {
    return this.#o.style.dim(`[${(elapsedMs / 1000).toFixed(1).padStart(6)}s]`)
  }

  #onPhase(progress: Extract<Progress, { kind: 'phase' }>): void {
    const at = this.#o.startedAt + progress.elapsedMs
    const current = this.#phase
    if (current && current.name === progress.phase) {
      const bootChanged = progress.boot && progress.boot.phase !== current.boot?.phase
      if (progress.message !== undefined) current.message = progress.message
      if (progress.boot) current.boot = { ...progress.boot }
      if (!this.#o.live && bootChanged) this.#plainPhaseLine(current, progress.elapsedMs)
      return
    }
    this.#closeStep(true, at)
    this.#phase = {
      name: progress.phase,
      startedAt: at,
      ...(progress.message === undefined ? {} : { message: progress.message }),
      ...(progress.boot ? { boot: { ...progress.boot } } : {}),
    }
    if (!this.#o.live) this.#plainPhaseLine(this.#phase, progress.elapsedMs)
  }

  #plainPhaseLine(phase: PhaseState, elapsedMs: number): void {
    const s = this.#o.style
    const parts = [`${this.#stamp(elapsedMs)} ${s.bold(phase.name)}`]
    if (phase.boot) parts.push(`boot: ${phase.boot.phase} ${phase.boot.percent}%`)
    if (phase.message) parts.push(phase.message)
    this.#o.write(`${parts.join('  ')}\n`)
  }

  #onPull(progress: Extract<Progress, { kind: 'pull' }>): void {
    const current = this.#pull
    if (!current || current.model !== progress.model || current.status !== progress.status) {
      this.#closeStep(true)
      this.#pull = {
        model: progress.model,
        status: progress.status,
        ...(progress.completed === undefined ? {} : { completed: progress.completed }),
        ...(progress.total === undefined ? {} : { total: progress.total }),
        quarter: 0,
      }
      if (!this.#o.live) this.#plainPullLine(this.#pull)
      return
    }
    if (progress.completed !== undefined) current.completed = progress.completed
    if (progress.total !== undefined) current.total = progress.total
    if (!this.#o.live) {
      const percent = percentOf(current.completed, current.total)
      const quarter = percent === undefined ? 0 : Math.floor(percent / 25)
      if (quarter > current.quarter) {
        current.quarter = quarter
        this.#plainPullLine(current)
      }
    }
  }

  #pullDetail(pull: PullState, bar: boolean): string {
    const percent = percentOf(pull.completed, pull.total)
    if (percent === undefined || pull.total === undefined) return pull.status
    const bytes = `${formatBytes(pull.completed ?? 0)} / ${formatBytes(pull.total)}`
    return bar
      ? `${pull.status}  ${formatBar(percent, 16)} ${String(percent).padStart(3)}%  ${bytes}`
      : `${pull.status} ${percent}% (${bytes})`
  }

  #plainPullLine(pull: PullState): void {
    this.#o.write(
      `${this.#stamp(this.#elapsed())} pulling ${pull.model}: ${this.#pullDetail(pull, false)}\n`,
    )
  }

  /** Ends the current phase or pull step; on a terminal prints its finished line. */
  #closeStep(ok: boolean, at = this.#o.clock.now()): void {
    const s = this.#o.style
    const mark = ok ? s.green('✓') : s.red('✗')
    if (this.#phase) {
      const phase = this.#phase
      this.#phase = undefined
      if (!this.#o.live) {
        return
      }
      this.#clearLive()
      const final = FINAL_PHASES.has(phase.name)
      const took = final
        ? `after ${formatDuration(phase.startedAt - this.#o.startedAt)}`
        : formatDuration(at - phase.startedAt)
      const message = phase.message ? `  ${s.dim(phase.message)}` : ''
      this.#o.write(`${mark} ${s.bold(phase.name.padEnd(12))} ${took}${message}\n`)
    }
    if (this.#pull) {
      const pull = this.#pull
      this.#pull = undefined
      if (!this.#o.live) return
      this.#clearLive()
      const size = pull.total ? `  ${formatBytes(pull.total)}` : ''
      this.#o.write(`${mark} ${pull.model}: ${pull.status}${size}\n`)
    }
  }

  #tick(): void {
    if (this.#ticker || this.#stopped) return
    this.#ticker = this.#o.clock.setTimer(TICK_MS, () => {
      this.#ticker = undefined
      if (this.#stopped) return
      this.#frame++
      this.#render()
      this.#tick()
    })
  }

  #liveLine(): string | undefined {
    const s = this.#o.style
    const spin = s.cyan(SPINNER[this.#frame % SPINNER.length] ?? '-')
    if (this.#pull) {
      return `${spin} ${s.bold(this.#pull.model)}  ${this.#pullDetail(this.#pull, true)}`
    }
    if (this.#phase) {
      const phase = this.#phase
      const parts = [
        `${spin} ${s.bold(phase.name.padEnd(12))}`,
        formatDuration(this.#o.clock.now() - phase.startedAt).padStart(7),
      ]
      if (phase.boot) {
        parts.push(
          `${phase.boot.phase} ${formatBar(phase.boot.percent, 16)} ${phase.boot.percent}%`,
        )
      }
      if (phase.message) parts.push(s.dim(phase.message))
      return parts.join('  ')
    }
    return undefined
  }

  #render(): void {
    const line = this.#liveLine()
    if (line === undefined) return
    const max = (this.#o.columns ?? 80) - 1
    // Cut to the width so the line never wraps (a wrapped line cannot be redrawn in place).
    const visible = stripVTControlCharacters(line)
    const tooLong = visible.length > max
    const shown = tooLong ? `${visible.slice(0, Math.max(0, max - 1))}…` : line
    const shownLength = tooLong ? max : visible.length
    if (this.#o.style.enabled) {
      this.#o.write(`\r\u001b[2K${shown}`)
    } else {
      const pad = Math.max(0, this.#liveLength - shownLength)
      this.#o.write(`\r${shown}${' '.repeat(pad)}`)
    }
    this.#liveLength = shownLength
  }

  #clearLive(): void {
    if (this.#liveLength === 0) return
    if (this.#o.style.enabled) this.#o.write('\r\u001b[2K')
    else this.#o.write(`\r${' '.repeat(this.#liveLength)}\r`)
    this.#liveLength = 0
  }
}
