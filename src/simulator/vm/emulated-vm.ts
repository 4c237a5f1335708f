import { existsSync, readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import {
  certificateFingerprint,
  errorMessage,
  type Clock,
  type Logger,
  type Timer,
} from '../../shared/index.js'
import { FakeOllama } from '../fake-ollama.js'
import type { InstanceView } from '../types.js'
import {
  formatBootStatus,
  oneLine,
  phasePercent,
  type VmBootPhase,
  type VmBootState,
  type VmBootStatus,
} from './boot-status.js'
import { readCloudConfig, type CloudConfig } from './cloud-config.js'
import { analyseSite, missingFiles, siteSources, type InstanceSite } from './instance-site.js'
import { startNginxProxy, type NginxProxy } from './nginx-proxy.js'
import { PortReservation } from './port-reservation.js'
import { listenPort, type ProxyKind, type VmProxy } from './proxy.js'
import { parseEnvFile, VmRootfs } from './rootfs.js'
import { startStandinProxy } from './standin-proxy.js'
import type { VmFaultRegistry, VmFaultSubject } from './vm-faults.js'
import type { ResolvedVmOptions } from './vm-options.js'
import {
  findWatchdogUnit,
  runWatchdogDecide,
  type WatchdogDecision,
  type WatchdogUnit,
} from './watchdog.js'

/**
 * One simulated instance's VM: its disk (what cloud-init's write_files created, kept across
 * power cycles), its front door (real nginx or the stand-in, running the instance's own site
 * config), its Ollama (the fake, with models kept on "disk"), the boot steps written to
 * boot.json over time like the recipe's boot script, and the watchdog. Power transitions are
 * queued so a stop during a boot waits for nothing but the current write.
 */

/** Where the recipe keeps things when the config does not say (the boot script's defaults). */
const DEFAULT_BOOT_STATUS = '/var/lib/exollama/boot.json'
const DEFAULT_ACTIVITY_LOG = '/var/lib/exollama/activity.log'
const DEFAULT_ENV_FILE = '/etc/exollama/recipe.env'
/** Inside the VM, Ollama is published on 127.0.0.1:11434 (what the site's upstream names). */
const VM_OLLAMA_PORT = 11434
const PROBE_TIMEOUT_MS = 5_000

/** What tests (and the CLI) can see of an emulated VM. */
export interface VmInfo {
  instanceId: string
  name: string
  /** The instance's public IP (a loopback address here). */
  ip: string | undefined
  /** The port the site listens on (11435 for the recipe). */
  port: number | undefined
  /** `https://<ip>:<port>` */
  origin: string | undefined
  /** `stopping` until nginx and Ollama have stopped (then connections are refused). */
  power: 'on' | 'stopping' | 'off'
  /** Power-ons so far (1 = the first boot). */
  boots: number
  /** The front door this VM runs when it can. */
  proxyKind: ProxyKind
  /** The front door running now (undefined: connections are refused). */
  proxy: ProxyKind | undefined
  /** nginx's master pid while it runs. */
  nginxPid: number | undefined
  /** The certificate the front door presents (PEM) and its SHA-256 fingerprint. */
  certPem: string | undefined
  certFingerprint: string | undefined
  /** The emulated Ollama (exists from the first boot on; `ollamaRunning` says if it listens). */
  ollama: FakeOllama | undefined
  ollamaRunning: boolean
  /** The last boot status written (also on "disk": it survives a stop). */
  bootStatus: VmBootStatus | undefined
  /**
   * The boot (1 = the first) during which `bootStatus` was written. After a start, nginx
   * serves the previous boot's file (often `ready`) until this boot's first write, as on a VM.
   */
  statusBoot: number | undefined
  /** Every status written, oldest first. */
  history: readonly VmBootStatus[]
  /** Why the user-data could not be applied, if it could not. */
  setupError: string | undefined
  /** The VM's temp directory (rootfs/ and nginx/). */
  rootDir: string | undefined
  /** Host paths of the boot status file and the activity log. */
  paths: { bootStatus: string | undefined; activityLog: string | undefined }
  /** How the site config was moved onto this machine (nginx only). */
  relocation: readonly { vmPath: string; text: string; changedLines: number[] }[] | undefined
  watchdog: { enabled: boolean; last: WatchdogDecision | undefined }
}

export type VmEventType =
  | 'power-on'
  | 'proxy-up'
  | 'proxy-down'
  | 'ollama-up'
  | 'ollama-down'
  | 'status'
  | 'preloaded'
  | 'power-off'
  | 'disposed'
  | 'watchdog'
  | 'error'

export interface VmEvent {
  type: VmEventType
  instanceId: string
  info: VmInfo
  status?: VmBootStatus
  decision?: WatchdogDecision
  message?: string
}

export interface EmulatedVmDeps {
  view: InstanceView
  clock: Clock
  logger: Logger
  faults: VmFaultRegistry
  options: ResolvedVmOptions
  /** Powers the instance off from inside (the watchdog): the simulator's powerOff. */
  powerOff: (instanceId: string) => boolean
  emit: (event: VmEvent) => void
}

interface Cycle {
  /** Why nginx did not start in this boot (reported by the `packages` step, as `nginx -t`). */
  proxyError?: string | undefined
  abort: AbortController
  walker: Promise<void> | undefined
  watchdog: Timer | undefined
}

class Aborted extends Error {}

/** The user-data as this VM applied it on its first boot. */
interface Installed {
  config: CloudConfig
  site: InstanceSite | undefined
  env: Record<string, string>
  watchdog: WatchdogUnit | undefined
  /** A problem that makes the boot fail at a step (e.g. nginx -t at `packages`). */
  failure: { phase: VmBootPhase; error: string } | undefined
}

export class EmulatedVm {
  readonly #d: EmulatedVmDeps
  #view: InstanceView
  #rootfs: VmRootfs | undefined
  #installed: Installed | undefined
  #setupError: string | undefined
  #bootStatusPath = DEFAULT_BOOT_STATUS
  #proxy: VmProxy | undefined
  #servedCert: { pem: string; fingerprint: string } | undefined
  #ollama: FakeOllama | undefined
  #ollamaPortNumber: number | undefined
  /** Holds the Ollama port while the fake is not listening on it. */
  #ollamaReservation: PortReservation | undefined
  #ollamaRunning = false
  #status: VmBootStatus | undefined
  #statusBoot: number | undefined
  readonly #history: VmBootStatus[] = []
  /** The boot script's step markers (var/lib/exollama/steps/*.done). */
  readonly #done = new Set<string>()
  #power: 'on' | 'stopping' | 'off' = 'off'
  #boots = 0
  #bootStartedAt = 0
  #cycle: Cycle | undefined
  #queue: Promise<void> = Promise.resolve()
  #disposed = false
  #lastWatchdog: WatchdogDecision | undefined

  constructor(deps: EmulatedVmDeps) {
    this.#d = deps
    this.#view = deps.view
  }

  get id(): string {
    return this.#view.id
  }

  get disposed(): boolean {
    return this.#disposed
  }

  /** Pending power work (resolves once the queue is empty at the time of the call). */
  settled(): Promise<void> {
    return this.#queue
  }

  info(): VmInfo {
    const port = this.#listenPort()
    const ip = this.#view.publicIp
    return {
      instanceId: this.#view.id,
      name: this.#view.name,
      ip,
      port,
      origin: ip && port ? `https://${ip}:${port}` : undefined,
      power: this.#power,
      boots: this.#boots,
      proxyKind: this.#d.options.proxy,
      proxy: this.#proxy?.kind,
      nginxPid: this.#proxy?.pid,
      certPem: this.#servedCert?.pem,
      certFingerprint: this.#servedCert?.fingerprint,
      ollama: this.#ollama,
      ollamaRunning: this.#ollamaRunning,
      bootStatus: this.#status,
      statusBoot: this.#statusBoot,
      history: [...this.#history],
      setupError: this.#setupError,
      rootDir: this.#rootfs?.dir,
      paths: {
        bootStatus: this.#rootfs?.hostPath(this.#bootStatusPath),
        activityLog: this.#rootfs?.hostPath(this.#activityLogPath()),
      },
      relocation: this.#proxy?.kind === 'nginx' ? (this.#proxy as NginxProxy).relocated : undefined,
      watchdog: { enabled: this.#watchdogEnabled(), last: this.#lastWatchdog },
    }
  }

  /** The instance changed (name, IP): used from the next boot on. */
  update(view: InstanceView): void {
    this.#view = view
  }

  powerOn(view: InstanceView): Promise<void> {
    this.#view = view
    return this.#enqueue(() => this.#powerOn())
  }

  powerOff(): Promise<void> {
    return this.#enqueue(() => this.#powerOff())
  }

  reboot(view: InstanceView): Promise<void> {
    this.#view = view
    return this.#enqueue(async () => {
      await this.#powerOff()
      await this.#powerOn()
    })
  }

  /** Destroyed: everything stops and the disk is removed. */
  dispose(): Promise<void> {
    return this.#enqueue(async () => {
      await this.#powerOff()
      this.#disposed = true
      await this.#ollamaReservation?.release()
      this.#ollamaReservation = undefined
      await this.#rootfs?.remove()
      this.#ollama = undefined
      this.#emit('disposed')
    })
  }

  /** Runs the watchdog now (as its timer would) and acts on the decision. */
  async runWatchdog(): Promise<WatchdogDecision | undefined> {
    const cycle = this.#cycle
    if (!cycle || this.#power !== 'on') return undefined
    return this.#watchdogTick(cycle)
  }

  // ---- power --------------------------------------------------------------------------------

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(work).catch((error: unknown) => {
      this.#d.logger.error({ err: error, instanceId: this.id }, 'emulated VM failed')
      this.#emit('error', { message: errorMessage(error) })
    })
    this.#queue = next
    return next
  }

  async #powerOn(): Promise<void> {
    if (this.#disposed || this.#power === 'on') return
    this.#power = 'on'
    this.#boots++
    this.#bootStartedAt = this.#d.clock.now()
    const cycle: Cycle = { abort: new AbortController(), walker: undefined, watchdog: undefined }
    this.#cycle = cycle
    this.#emit('power-on')

    if (!this.#rootfs) await this.#install()
    const installed = this.#installed
    if (!installed) {
      // cloud-init could not apply the user-data: no boot script runs, ever.
      if (this.#boots === 1 && this.#setupError !== undefined && this.#rootfs) {
        await this.#write('failed', 'booting', 0, `cloud-init: ${this.#setupError}`)
      }
      return
    }
    const laterBoot = this.#done.has('booting')
    // nginx is installed by the `packages` step; a config it refuses fails the boot there.
    if (!installed.failure) await this.#startProxy(installed, cycle)
    // Docker restarts the Ollama container (restart unless-stopped) on later boots.
    if (laterBoot && this.#done.has('ollama-start')) await this.#startOllama(installed)
    this.#armWatchdog(cycle, installed)
    cycle.walker = this.#walk(cycle, installed).catch((error: unknown) => {
      if (error instanceof Aborted || cycle.abort.signal.aborted) return
      this.#d.logger.error({ err: error, instanceId: this.id }, 'emulated boot failed')
      this.#emit('error', { message: errorMessage(error) })
    })
  }

  async #powerOff(): Promise<void> {
    if (this.#power !== 'on') return
    this.#power = 'stopping'
    const cycle = this.#cycle
    this.#cycle = undefined
    if (cycle) {
      cycle.abort.abort(new Aborted('powered off'))
      cycle.watchdog?.cancel()
      await cycle.walker
    }
    await this.#stopOllama()
    await this.#stopProxy()
    this.#power = 'off'
    this.#emit('power-off')
  }

  // ---- cloud-init ---------------------------------------------------------------------------

  async #install(): Promise<void> {
    const opts = this.#d.options
    this.#rootfs = await VmRootfs.create(opts.tempDir, this.id.slice(0, 8))
    const userData = this.#view.userData
    if (userData === undefined) {
      this.#setupError = 'the instance has no user-data'
      return
    }
    let config: CloudConfig
    try {
      config = readCloudConfig(userData)
      await this.#rootfs.writeFiles(config.files.values())
    } catch (error) {
      this.#setupError = oneLine(errorMessage(error))
      this.#d.logger.warn(
        { instanceId: this.id, problem: this.#setupError },
        'emulated VM: bad user-data',
      )
      return
    }
    const envPath = findWatchdogUnit(config.files)?.environmentFile ?? DEFAULT_ENV_FILE
    const env = parseEnvFile(config.files.get(envPath)?.content.toString('utf8') ?? '')
    let site: InstanceSite | undefined
    let failure: Installed['failure']
    try {
      const sources = siteSources(config.files)
      if (sources.length === 0) {
        throw new Error('write_files has no nginx site (/etc/nginx/conf.d/*.conf)')
      }
      site = analyseSite(sources)
      const problems = missingFiles(site, config.files, (p) => existsSync(p))
      if (!site.certPath || !site.keyPath) {
        problems.unshift('the nginx site names no ssl_certificate and ssl_certificate_key')
      }
      if (problems.length > 0) throw new Error(`nginx: [emerg] ${problems.join('; ')}`)
      if (site.bootStatusPath) this.#bootStatusPath = site.bootStatusPath
    } catch (error) {
      const message = errorMessage(error)
      this.#setupError = oneLine(message)
      // What the boot script reports when `nginx -t` refuses the config.
      failure = {
        phase: 'packages',
        error: oneLine(`packages failed: 'nginx -t' exited 1: ${message}`),
      }
      this.#d.logger.warn(
        { instanceId: this.id, problem: message },
        'emulated VM: nginx config unusable',
      )
    }
    // The boot script's own directories (it mkdirs them before the first write).
    await this.#rootfs.mkdirp(dirname(this.#bootStatusPath))
    await this.#rootfs.mkdirp(dirname(this.#activityLogPath(site)))
    for (const ref of site?.references ?? []) {
      if (ref.directive === 'access_log' || ref.directive === 'error_log') {
        await this.#rootfs.mkdirp(dirname(ref.vmPath)) // the nginx package creates /var/log/nginx
      }
    }
    this.#installed = { config, site, env, watchdog: findWatchdogUnit(config.files), failure }
  }

  // ---- the boot script ----------------------------------------------------------------------

  async #walk(cycle: Cycle, installed: Installed): Promise<void> {
    const ms = this.#d.options.phaseMs
    const gpu = installed.env.EXOLLAMA_GPU === '1'
    await this.#sleep(cycle, ms.firstWrite)
    if (!this.#done.has('booting')) {
      await this.#write('running', 'booting', 0, null, cycle)
      this.#done.add('booting')
      await this.#sleep(cycle, ms.booting)
    }
    const once: VmBootPhase[] = [
      'packages',
      'docker',
      ...(gpu ? (['gpu-driver'] as const) : []),
      'image-pull',
    ]
    for (const phase of once) {
      if (this.#done.has(phase)) continue
      if (!(await this.#step(cycle, installed, phase, gpu))) return
      if (phase === 'gpu-driver' && !this.#done.has('gpu-rebooted')) {
        await this.#gpuReboot(cycle, installed)
        if (!(await this.#step(cycle, installed, phase, gpu, 0))) return
      }
      this.#done.add(phase)
    }
    for (const phase of ['ollama-start', 'health'] as const) {
      if (!(await this.#step(cycle, installed, phase, gpu))) return
      this.#done.add(phase)
    }
    await this.#write('ready', 'ready', 100, null, cycle)
    await this.#preload(cycle, installed)
  }

  /** One run_step: status, the step's work (its duration), then its effect. False: it failed. */
  async #step(
    cycle: Cycle,
    installed: Installed,
    phase: VmBootPhase,
    gpu: boolean,
    durationMs = this.#d.options.phaseMs[phase as Exclude<VmBootPhase, 'ready'>],
  ): Promise<boolean> {
    const subject = this.#subject()
    await this.#write('running', phase, phasePercent(phase, gpu), null, cycle)
    const slow = this.#d.faults.take('slow-boot', subject, phase)
    await this.#sleep(cycle, durationMs + (slow?.extraMs ?? 0))
    const injected = this.#d.faults.take('boot-failure', subject, phase)
    let error: string | undefined =
      injected !== undefined
        ? (injected.message ?? `${phase} failed: simulated failure (sim.vm.faults)`)
        : installed.failure?.phase === phase
          ? installed.failure.error
          : phase === 'packages' && cycle.proxyError !== undefined
            ? `packages failed: 'nginx -t' exited 1: ${cycle.proxyError}`
            : undefined
    if (error === undefined && phase === 'ollama-start') {
      try {
        await this.#startOllama(installed)
      } catch (e) {
        error = `ollama-start failed: ${errorMessage(e)}`
      }
    }
    if (error === undefined && phase === 'health') error = await this.#health(cycle)
    if (error !== undefined) {
      await this.#write('failed', phase, this.#status?.percent ?? 0, oneLine(error), cycle)
      return false
    }
    return true
  }

  /** The GPU driver needs a reboot: nginx goes down and comes back, then the step resumes. */
  async #gpuReboot(cycle: Cycle, installed: Installed): Promise<void> {
    const ms = this.#d.options.phaseMs
    await this.#write('running', 'gpu-driver', this.#status?.percent ?? 0, null, cycle)
    this.#done.add('gpu-rebooted')
    await this.#stopProxy()
    await this.#sleep(cycle, ms.reboot)
    this.#bootStartedAt = this.#d.clock.now()
    if (!installed.failure) await this.#startProxy(installed, cycle)
    this.#check(cycle)
    await this.#sleep(cycle, ms.firstWrite)
  }

  /** The boot script's health step: Ollama answers, and nginx refuses a request without the key. */
  async #health(cycle: Cycle): Promise<string | undefined> {
    const signal = cycle.abort.signal
    const port = this.#ollamaRunning && this.#ollama ? this.#ollama.port : undefined
    const ollama = port ? await probe({ url: `http://127.0.0.1:${port}/api/version`, signal }) : 0
    this.#check(cycle)
    if (ollama < 200 || ollama >= 300) {
      return `health failed: Ollama did not answer on 127.0.0.1:${VM_OLLAMA_PORT} within 5 minutes`
    }
    const ip = this.#view.publicIp
    const listen = this.#listenPort()
    if (ip && listen) {
      const code = this.#proxy
        ? await probe({ url: `https://${ip}:${listen}/api/version`, signal, insecure: true })
        : 0
      this.#check(cycle)
      if (code !== 401) {
        return `health failed: nginx answered ${String(code).padStart(3, '0')} on ${listen} to a request without the key (expected 401)`
      }
    }
    return undefined
  }

  /** EXOLLAMA_PRELOAD_MODELS: pulled and loaded once after `ready`, then `ready` again. */
  async #preload(cycle: Cycle, installed: Installed): Promise<void> {
    const models = (installed.env.EXOLLAMA_PRELOAD_MODELS ?? '').split(/\s+/).filter(Boolean)
    if (models.length === 0 || this.#done.has('preload') || !this.#ollama) return
    const base = this.#ollama.url
    let ok = true
    for (const model of models) {
      await this.#sleep(cycle, this.#d.options.phaseMs.preload)
      const signal = cycle.abort.signal
      const pulled = await probe({
        url: `${base}/api/pull`,
        body: { model, stream: false },
        signal,
      })
      this.#check(cycle)
      if (pulled !== 200) {
        ok = false
        continue
      }
      await probe({ url: `${base}/api/generate`, body: { model }, signal })
      this.#check(cycle)
    }
    if (ok) this.#done.add('preload')
    await this.#write('ready', 'ready', 100, null, cycle)
    this.#emit('preloaded')
  }

  /** Writes boot.json atomically (percent never goes down) and tells the listeners. */
  async #write(
    state: VmBootState,
    phase: VmBootPhase,
    percent: number,
    error: string | null,
    cycle?: Cycle,
  ): Promise<void> {
    if (cycle) this.#check(cycle)
    const rootfs = this.#rootfs
    if (!rootfs) return
    const status: VmBootStatus = {
      state,
      phase,
      percent: Math.max(percent, this.#status?.percent ?? 0),
      error,
      updated_at: Math.floor(this.#d.clock.now() / 1000),
      gpu: this.#installed?.env.EXOLLAMA_GPU === '1',
    }
    // The info says what nginx serves: the status changes once the file is in place.
    await rootfs.writeAtomic(this.#bootStatusPath, formatBootStatus(status))
    this.#status = status
    this.#statusBoot = this.#boots
    this.#history.push(status)
    this.#emit('status', { status })
    await rootfs.append(
      `${dirname(this.#bootStatusPath)}/boot-history.log`,
      `${status.updated_at} ${state} ${phase} ${status.percent}\n`,
    )
  }

  // ---- processes ----------------------------------------------------------------------------

  async #startProxy(installed: Installed, cycle: Cycle): Promise<void> {
    const site = installed.site
    const ip = this.#view.publicIp
    if (!site || !ip || !this.#rootfs) return
    if (this.#d.faults.take('proxy-down', this.#subject())) {
      this.#d.logger.debug({ instanceId: this.id }, 'emulated VM: nginx kept down (fault)')
      return
    }
    const ollamaPort = await this.#ollamaPort(installed)
    const wrong = this.#d.faults.take('wrong-certificate', this.#subject())
    const tlsOverride = wrong ? { certPem: wrong.certPem, keyPem: wrong.keyPem } : undefined
    const input = {
      site,
      rootfs: this.#rootfs,
      ip,
      ollamaPort,
      vmOllamaPort: VM_OLLAMA_PORT,
      tlsOverride,
      clock: this.#d.clock,
      logger: this.#d.logger,
    }
    const opts = this.#d.options
    try {
      this.#proxy =
        opts.proxy === 'nginx'
          ? await startNginxProxy(input, {
              binary: opts.nginxBinary,
              ...(opts.nginxStartTimeoutMs === undefined
                ? {}
                : { startTimeoutMs: opts.nginxStartTimeoutMs }),
            })
          : await startStandinProxy(input)
    } catch (error) {
      const message = errorMessage(error)
      // This boot only: a later boot tries again (and `health` fails if nginx is still down).
      cycle.proxyError = oneLine(message)
      this.#d.logger.warn(
        { instanceId: this.id, problem: message },
        'emulated VM: nginx did not start',
      )
      return
    }
    const pem =
      tlsOverride?.certPem ??
      (site.certPath ? readFileSync(this.#rootfs.hostPath(site.certPath), 'utf8') : undefined)
    this.#servedCert = pem ? { pem, fingerprint: certificateFingerprint(pem) } : undefined
    this.#emit('proxy-up')
  }

  async #stopProxy(): Promise<void> {
    const proxy = this.#proxy
    if (!proxy) return
    await proxy.stop()
    this.#proxy = undefined
    this.#emit('proxy-down')
  }

  async #ollamaPort(installed: Installed): Promise<number> {
    if (!this.#ollama || this.#ollamaPortNumber === undefined) {
      const { models, ...behavior } = this.#d.options.ollama
      // Held from now on for the VM's life, so nginx's upstream stays right across power cycles.
      this.#ollamaReservation = await PortReservation.hold('127.0.0.1')
      const port = this.#ollamaReservation.port
      this.#ollamaPortNumber = port
      this.#ollama = new FakeOllama({
        clock: this.#d.clock,
        host: '127.0.0.1',
        port,
        models: models ?? [],
        behavior: { ...imageVersion(installed.env), ...behavior },
      })
    }
    return this.#ollamaPortNumber
  }

  async #startOllama(installed: Installed): Promise<void> {
    await this.#ollamaPort(installed)
    const fake = this.#ollama
    if (!fake || this.#ollamaRunning) return
    const version = this.#d.faults.take('ollama-version', this.#subject())?.version
    const configured = this.#d.options.ollama.version ?? imageVersion(installed.env).version
    fake.set({ version: version ?? configured ?? fake.behavior.version })
    await this.#ollamaReservation?.release()
    this.#ollamaReservation = undefined
    await fake.start()
    this.#ollamaRunning = true
    this.#emit('ollama-up')
  }

  async #stopOllama(): Promise<void> {
    if (!this.#ollama || !this.#ollamaRunning) return
    await this.#ollama.close()
    this.#ollamaRunning = false
    const port = this.#ollamaPortNumber
    if (port !== undefined && !this.#disposed) {
      this.#ollamaReservation = await PortReservation.hold('127.0.0.1', port).catch(
        (error: unknown) => {
          this.#d.logger.warn({ err: error, port }, 'emulated VM: could not hold the Ollama port')
          return undefined
        },
      )
    }
    this.#emit('ollama-down')
  }

  // ---- the watchdog -------------------------------------------------------------------------

  #watchdogEnabled(): boolean {
    return (
      this.#d.options.watchdog !== false &&
      this.#d.options.bash !== undefined &&
      this.#installed?.watchdog !== undefined
    )
  }

  #armWatchdog(cycle: Cycle, installed: Installed): void {
    const opts = this.#d.options.watchdog
    const unit = installed.watchdog
    if (opts === false || !unit || !this.#watchdogEnabled()) return
    const schedule = (ms: number) => {
      cycle.watchdog = this.#d.clock.setTimer(ms, () => {
        if (cycle.abort.signal.aborted) return
        void this.#watchdogTick(cycle).finally(() => {
          if (!cycle.abort.signal.aborted) schedule(opts.intervalMs ?? unit.intervalMs)
        })
      })
    }
    schedule(opts.firstMs ?? unit.firstMs)
  }

  async #watchdogTick(cycle: Cycle): Promise<WatchdogDecision | undefined> {
    const installed = this.#installed
    const rootfs = this.#rootfs
    const bash = this.#d.options.bash
    const unit = installed?.watchdog
    if (!installed || !rootfs || !bash || !unit) return undefined
    const env = installed.env
    const now = this.#d.clock.now()
    let decision: WatchdogDecision
    try {
      decision = await runWatchdogDecide({
        bash,
        script: rootfs.hostPath(unit.scriptPath),
        activityLog: rootfs.hostPath(this.#activityLogPath()),
        bootStatus: rootfs.hostPath(this.#bootStatusPath),
        uptimeS: (now - this.#bootStartedAt) / 1000,
        nowS: now / 1000,
        inFlight: this.#ollamaRunning ? (this.#ollama?.openConnections ?? 0) : 0,
        idleS: env.EXOLLAMA_IDLE_TIMEOUT ?? '',
        graceS: env.EXOLLAMA_WATCHDOG_GRACE ?? '600',
        maxLifetimeS: env.EXOLLAMA_MAX_LIFETIME ?? '',
      })
    } catch (error) {
      this.#d.logger.warn({ err: error, instanceId: this.id }, 'emulated watchdog failed')
      this.#emit('error', { message: errorMessage(error) })
      return undefined
    }
    if (cycle.abort.signal.aborted) return decision
    this.#lastWatchdog = decision
    this.#emit('watchdog', { decision })
    if (decision.poweroff) {
      this.#d.logger.info(
        { instanceId: this.id, decision: decision.line },
        'emulated watchdog powers off',
      )
      this.#d.powerOff(this.id)
    }
    return decision
  }

  // ---- helpers ------------------------------------------------------------------------------

  #activityLogPath(site = this.#installed?.site): string {
    return site?.activityLogPath ?? DEFAULT_ACTIVITY_LOG
  }

  #listenPort(): number | undefined {
    const first = this.#installed?.site?.listens[0]
    return first === undefined ? undefined : listenPort(first)
  }

  #subject(): VmFaultSubject {
    return { instanceId: this.#view.id, name: this.#view.name }
  }

  #check(cycle: Cycle): void {
    if (cycle.abort.signal.aborted) throw new Aborted('powered off')
  }

  async #sleep(cycle: Cycle, ms: number): Promise<void> {
    this.#check(cycle)
    if (ms === Infinity) {
      await new Promise<never>((_, reject) =>
        cycle.abort.signal.addEventListener('abort', () => reject(new Aborted('powered off')), {
          once: true,
        }),
      )
    }
    try {
      await this.#d.clock.sleep(ms, cycle.abort.signal)
    } catch {
      throw new Aborted('powered off')
    }
  }

  #emit(
    type: VmEventType,
    extra: Partial<Omit<VmEvent, 'type' | 'instanceId' | 'info'>> = {},
  ): void {
    this.#d.emit({ type, instanceId: this.id, info: this.info(), ...extra })
  }
}

function dirname(vmPath: string): string {
  const i = vmPath.lastIndexOf('/')
  return i <= 0 ? '/' : vmPath.slice(0, i)
}

/** The Ollama version of the pinned image (`ollama/ollama:0.32.15` → 0.32.15), if it is one. */
function imageVersion(env: Record<string, string>): { version?: string } {
  const tag = /:(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)$/.exec(env.EXOLLAMA_OLLAMA_IMAGE ?? '')?.[1]
  return tag ? { version: tag } : {}
}

/** One request from inside the VM (no keep-alive); the status, or 0 when it failed. */
function probe(options: {
  url: string
  signal: AbortSignal
  insecure?: boolean
  body?: unknown
}): Promise<number> {
  const url = new URL(options.url)
  const body = options.body === undefined ? undefined : JSON.stringify(options.body)
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve) => {
    const req = send(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        agent: false,
        signal: options.signal,
        timeout: PROBE_TIMEOUT_MS,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(options.insecure ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', () => resolve(0))
      },
    )
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(0))
    req.end(body)
  })
}
