import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BOOT_PHASES,
  BOOT_SCRIPT,
  VM_PATHS,
  buildUserData,
  generateInstanceCredentials,
  parseBootStatus,
  type BootStatus,
  type InstanceCredentials,
  type RecipeSettings,
} from '../../src/recipe/index.js'
import { decodeAndParse, fileContent, repoRoot } from './helpers/cloud-config.js'

/**
 * The REAL boot script (as shipped in the user-data) run by bash on a fake VM root: every
 * system command it calls (apt-get, systemctl, docker, curl, nvidia-smi, …) is a recording
 * stub, so the step logic, the boot status, error reporting and the resume after a reboot are
 * exercised for real; the commands' effects on a VM are not (nothing here runs on a VM or GPU).
 */
const STUBBED = [
  'apt-get',
  'systemctl',
  'nginx',
  'docker',
  'curl',
  'iptables',
  'nvidia-smi',
  'nvidia-ctk',
  'ubuntu-drivers',
  'modprobe',
  'gpg',
  'sleep',
]
const stubSource = path.join(repoRoot, 'test/fixtures/recipe/boot/stub-command.sh')

let creds: InstanceCredentials
let work: string

beforeAll(async () => {
  creds = await generateInstanceCredentials()
  work = mkdtempSync(path.join(tmpdir(), 'exollama-boot-'))
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

interface FakeVm {
  root: string
  run(
    mode: 'first-boot' | 'resume' | 'block-metadata',
    env?: Record<string, string>,
  ): {
    status: number | null
    stdout: string
    stderr: string
  }
  calls(): string[]
  failOn(...regexes: string[]): void
  status(): BootStatus
  rawStatus(): string
  history(): { state: string; phase: string; percent: number }[]
  exists(vmPath: string): boolean
  set(flag: 'nvidia-broken', on: boolean): void
  log(): string
}

function fakeVm(overrides: Partial<RecipeSettings> = {}): FakeVm {
  const root = mkdtempSync(path.join(work, 'vm-'))
  const stubs = path.join(root, 'stub-bin')
  mkdirSync(stubs)
  copyFileSync(stubSource, path.join(stubs, 'stub-command'))
  chmodSync(path.join(stubs, 'stub-command'), 0o755)
  for (const name of STUBBED) symlinkSync('stub-command', path.join(stubs, name))

  const decoded = decodeAndParse(
    buildUserData({
      name: 'boot-test',
      ollamaKey: creds.ollamaKey,
      tls: { certPem: creds.certPem, keyPem: creds.keyPem },
      gpu: false,
      idleTimeoutS: 1800,
      maxLifetimeS: 86_400,
      ...overrides,
    }).userData,
  )
  // cloud-init's write_files, under the fake root.
  for (const file of decoded.files.values()) {
    const target = path.join(root, file.path)
    mkdirSync(path.dirname(target), { recursive: true })
    writeFileSync(target, file.content, { mode: parseInt(String(file.permissions), 8) })
  }
  expect(fileContent(decoded, VM_PATHS.bootScript)).toBe(BOOT_SCRIPT)
  mkdirSync(path.join(root, 'etc/nginx/sites-enabled'), { recursive: true })
  writeFileSync(path.join(root, 'etc/nginx/sites-enabled/default'), 'server { listen 80; }\n')
  writeFileSync(
    path.join(root, 'etc/os-release'),
    `NAME="Ubuntu"\nVERSION_ID="${overrides.ubuntu ?? '22.04'}"\n`,
  )
  const at = (p: string) => path.join(root, p)
  const read = (p: string) => readFileSync(at(p), 'utf8')

  return {
    root,
    run: (mode, env = {}) => {
      const r = spawnSync('bash', [at(VM_PATHS.bootScript), mode], {
        encoding: 'utf8',
        env: { PATH: `${stubs}:/usr/bin:/bin`, EXOLLAMA_ROOT: root, STUB_DIR: root, ...env },
      })
      return { status: r.status, stdout: r.stdout, stderr: r.stderr }
    },
    calls: () => (existsSync(at('calls')) ? read('calls').trim().split('\n') : []),
    failOn: (...regexes) => writeFileSync(at('fail'), regexes.join('\n') + '\n'),
    rawStatus: () => read(VM_PATHS.bootStatus),
    status: () => {
      const parsed = parseBootStatus(JSON.parse(read(VM_PATHS.bootStatus)))
      if (!parsed) throw new Error(`not a boot status: ${read(VM_PATHS.bootStatus)}`)
      return parsed
    },
    history: () =>
      read(VM_PATHS.bootHistory)
        .trim()
        .split('\n')
        .map((l) => {
          const [, state, phase, percent] = l.split(' ')
          return { state: state!, phase: phase!, percent: Number(percent) }
        }),
    exists: (p) => existsSync(at(p)),
    set: (flag, on) => (on ? writeFileSync(at(flag), '') : rmSync(at(flag), { force: true })),
    log: () => read('var/log/exollama-boot.log'),
  }
}

const index = (calls: string[], pattern: RegExp) => calls.findIndex((c) => pattern.test(c))

function expectMonotonic(history: { percent: number; phase: string }[]) {
  for (let i = 1; i < history.length; i++) {
    expect(history[i]!.percent).toBeGreaterThanOrEqual(history[i - 1]!.percent)
  }
  const order = history.map((h) => BOOT_PHASES.indexOf(h.phase as (typeof BOOT_PHASES)[number]))
  expect(order.every((o) => o >= 0)).toBe(true)
}

describe('exollama-boot on a CPU instance', () => {
  it('brings nginx up first, then Docker, the image, Ollama, and reports ready', () => {
    const vm = fakeVm()
    const result = vm.run('first-boot')
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    expect(vm.status()).toMatchObject({
      state: 'ready',
      phase: 'ready',
      percent: 100,
      error: null,
      gpu: false,
    })
    expect(vm.history().map((h) => `${h.state} ${h.phase} ${h.percent}`)).toEqual([
      'running booting 0',
      'running packages 5',
      'running docker 15',
      'running image-pull 30',
      'running ollama-start 85',
      'running health 92',
      'ready ready 100',
    ])
    const calls = vm.calls()
    // The watchdog is armed before anything can hang; later boots resume.
    const watchdog = index(calls, /^systemctl enable --now exollama-watchdog\.timer$/)
    expect(watchdog).toBeGreaterThanOrEqual(0)
    expect(watchdog).toBeLessThan(index(calls, /^apt-get /))
    expect(calls).toContain('systemctl enable exollama-boot.service')
    // nginx first (boot status visible), then Docker CE from Docker's repository.
    const nginxUp = index(calls, /^systemctl restart nginx$/)
    expect(index(calls, /^apt-get .* install --no-install-recommends nginx /)).toBeLessThan(nginxUp)
    expect(index(calls, /^nginx -t$/)).toBeLessThan(nginxUp)
    expect(nginxUp).toBeLessThan(
      index(calls, /^apt-get .* install docker-ce docker-ce-cli containerd\.io$/),
    )
    expect(vm.exists('etc/nginx/sites-enabled/default')).toBe(false)
    // Non-interactive apt that waits for the dpkg lock.
    expect(
      calls
        .filter((c) => c.startsWith('apt-get '))
        .every((c) => c.includes('DPkg::Lock::Timeout=600')),
    ).toBe(true)
    // Containers cannot reach the metadata server.
    expect(calls).toContain('iptables -w -I DOCKER-USER 1 -d 169.254.169.254/32 -j DROP')
    // The container: pinned image, loopback only, restart policy, volume, no cloud, keep-alive.
    expect(calls).toContain('docker pull ollama/ollama:0.32.15')
    expect(calls.filter((c) => c.startsWith('docker run '))).toEqual([
      'docker run -d --name ollama --restart unless-stopped -p 127.0.0.1:11434:11434 -v ollama:/root/.ollama -e OLLAMA_NO_CLOUD=1 -e OLLAMA_KEEP_ALIVE=30m ollama/ollama:0.32.15',
    ])
    // Health: Ollama directly, and nginx refusing a request without the key.
    expect(calls).toContain(
      'curl -fsS --max-time 5 -o /dev/null http://127.0.0.1:11434/api/version',
    )
    expect(calls.some((c) => c.includes('https://127.0.0.1:11435/api/version'))).toBe(true)
    expect(calls.some((c) => /nvidia|ubuntu-drivers/.test(c))).toBe(false)
    expect(vm.log()).toContain('exollama-boot: ready')
  })

  it('on a later boot only restarts and re-checks Ollama', () => {
    const vm = fakeVm()
    expect(vm.run('first-boot').status).toBe(0)
    const before = vm.calls().length
    const result = vm.run('resume')
    expect(result.status).toBe(0)
    const later = vm.calls().slice(before)
    expect(later.some((c) => c.startsWith('apt-get'))).toBe(false)
    expect(later.some((c) => c.startsWith('docker pull'))).toBe(false)
    expect(later).toContain('docker start ollama')
    expect(later.some((c) => c.includes('http://127.0.0.1:11434/api/version'))).toBe(true)
    expect(vm.status()).toMatchObject({ state: 'ready', percent: 100 })
    expect(
      vm
        .history()
        .slice(-3)
        .map((h) => `${h.state} ${h.phase} ${h.percent}`),
    ).toEqual(['running ollama-start 100', 'running health 100', 'ready ready 100'])
  })

  it('pulls and loads the preload models once Ollama is ready, once', () => {
    const vm = fakeVm({ preloadModels: ['qwen2.5:0.5b', 'library/llama3.2:3b'], keepAlive: '2h' })
    expect(vm.run('first-boot').status).toBe(0)
    const calls = vm.calls()
    const pulls = calls.filter((c) => c.includes('/api/pull'))
    expect(pulls).toEqual([
      'curl -fsS --max-time 7200 -o /dev/null -H Content-Type: application/json -d {"model":"qwen2.5:0.5b","stream":false} http://127.0.0.1:11434/api/pull',
      'curl -fsS --max-time 7200 -o /dev/null -H Content-Type: application/json -d {"model":"library/llama3.2:3b","stream":false} http://127.0.0.1:11434/api/pull',
    ])
    expect(calls.filter((c) => c.includes('/api/generate'))).toHaveLength(2)
    expect(index(calls, /api\/pull/)).toBeGreaterThan(index(calls, /^docker run /))
    expect(calls.find((c) => c.startsWith('docker run'))).toContain('-e OLLAMA_KEEP_ALIVE=2h')
    // Ready before the pulls, and again after them (the watchdog's idle clock restarts).
    expect(
      vm
        .history()
        .slice(-2)
        .map((h) => `${h.state} ${h.phase}`),
    ).toEqual(['ready ready', 'ready ready'])
    const before = vm.calls().length
    vm.run('resume')
    expect(
      vm
        .calls()
        .slice(before)
        .some((c) => c.includes('/api/pull')),
    ).toBe(false)
  })

  it('a failed model pull is logged, never fatal, and retried on the next boot', () => {
    const vm = fakeVm({ preloadModels: ['qwen2.5:0.5b'] })
    vm.failOn('api/pull')
    expect(vm.run('first-boot').status).toBe(0)
    expect(vm.status().state).toBe('ready')
    expect(vm.log()).toContain('could not pull qwen2.5:0.5b')
    vm.failOn()
    const before = vm.calls().length
    vm.run('resume')
    expect(
      vm
        .calls()
        .slice(before)
        .filter((c) => c.includes('/api/pull')),
    ).toHaveLength(1)
  })

  it('reports a failed step with its error, and resumes from it once fixed', () => {
    const vm = fakeVm()
    vm.failOn('^docker pull ')
    const result = vm.run('first-boot')
    expect(result.status).not.toBe(0)
    const failed = vm.status()
    expect(failed).toMatchObject({ state: 'failed', phase: 'image-pull', percent: 30, gpu: false })
    expect(failed.error).toContain('image-pull failed:')
    expect(failed.error).toContain('docker pull')
    expect(failed.error).toContain('E: docker: simulated failure')
    // Retried with a pause between attempts.
    expect(vm.calls().filter((c) => c === 'docker pull ollama/ollama:0.32.15')).toHaveLength(3)
    expect(vm.calls().filter((c) => c === 'sleep 30')).toHaveLength(2)
    expect(vm.calls().some((c) => c.startsWith('docker run'))).toBe(false)

    vm.failOn()
    const before = vm.calls().length
    expect(vm.run('resume').status).toBe(0)
    const later = vm.calls().slice(before)
    expect(later.some((c) => c.startsWith('apt-get'))).toBe(false)
    expect(later[0]).toBe('docker pull ollama/ollama:0.32.15')
    expect(vm.status()).toMatchObject({ state: 'ready', error: null })
    expectMonotonic(vm.history())
  })

  it('reports a package failure before nginx is even installed', () => {
    const vm = fakeVm()
    vm.failOn('install --no-install-recommends nginx')
    expect(vm.run('first-boot').status).toBe(1)
    expect(vm.status()).toMatchObject({ state: 'failed', phase: 'packages', percent: 5 })
    expect(vm.status().error).toMatch(
      /^packages failed: 'apt-get .*' exited 100: E: apt-get: simulated failure$/,
    )
  })

  it('fails health when nginx does not demand the key', () => {
    const vm = fakeVm()
    expect(vm.run('first-boot', { STUB_NGINX_CODE: '200' }).status).toBe(1)
    expect(vm.status()).toMatchObject({
      state: 'failed',
      phase: 'health',
      error:
        'health failed: nginx answered 200 on 11435 to a request without the key (expected 401)',
    })
  })

  it('keeps the status valid one-line JSON whatever the failing command printed', () => {
    const vm = fakeVm()
    vm.failOn('^docker info')
    const nasty = 'E: "quoted" \\back\\slash\ttab $(rm -rf /) `cmd` é \u0001'
    expect(vm.run('first-boot', { STUB_FAIL_MESSAGE: nasty }).status).toBe(1)
    const raw = vm.rawStatus()
    expect(raw.trim().split('\n')).toHaveLength(1)
    const status = vm.status()
    expect(status.phase).toBe('docker')
    expect(status.error).toContain('E: "quoted" \\back\\slash tab $(rm -rf /) `cmd`')
    // Printable ASCII only: control characters and non-ASCII bytes were replaced.
    expect([...(status.error ?? '')].every((ch) => ch >= ' ' && ch <= '~')).toBe(true)
    // The command substitution in the message was data, not code.
    expect(vm.calls().some((c) => c.startsWith('rm') || c.startsWith('cmd'))).toBe(false)
  })

  it('applies the metadata block once, however often Docker restarts', () => {
    const vm = fakeVm()
    expect(vm.run('block-metadata').status).toBe(0)
    expect(vm.run('block-metadata').status).toBe(0)
    const inserts = vm.calls().filter((c) => c.includes(' -I DOCKER-USER'))
    expect(inserts).toEqual(['iptables -w -I DOCKER-USER 1 -d 169.254.169.254/32 -j DROP'])
    expect(vm.exists(VM_PATHS.bootStatus)).toBe(false) // not a boot run: no status written
  })
})

describe('exollama-boot on a GPU instance', () => {
  it('installs driver and toolkit, reboots once when needed, and resumes to ready', () => {
    const vm = fakeVm({ gpu: true })
    vm.set('nvidia-broken', true)
    const first = vm.run('first-boot')
    expect(first.status).toBe(0)
    // Waiting for cloud-init's power_state reboot.
    expect(vm.exists(VM_PATHS.rebootMarker)).toBe(true)
    expect(vm.status()).toMatchObject({
      state: 'running',
      phase: 'gpu-driver',
      percent: 25,
      gpu: true,
      error: null,
    })
    const calls = vm.calls()
    expect(calls).toContain('ubuntu-drivers install --gpgpu nvidia:580-server')
    expect(calls.some((c) => /^apt-get .* install nvidia-utils-580-server$/.test(c))).toBe(true)
    expect(calls.some((c) => /^apt-get .* install nvidia-container-toolkit$/.test(c))).toBe(true)
    expect(calls).toContain('nvidia-ctk runtime configure --runtime=docker')
    expect(index(calls, /^nvidia-ctk/)).toBeLessThan(index(calls, /^nvidia-smi -L/))
    expect(calls.some((c) => c.startsWith('docker pull'))).toBe(false)
    expect(calls).not.toContain('systemctl --no-block reboot') // cloud-init reboots, not the script
    expect(
      readFileSync(
        path.join(vm.root, 'etc/apt/sources.list.d/nvidia-container-toolkit.list'),
        'utf8',
      ),
    ).toContain('deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://')

    // The reboot loaded the driver; exollama-boot.service resumes.
    vm.set('nvidia-broken', false)
    const before = vm.calls().length
    expect(vm.run('resume').status).toBe(0)
    const later = vm.calls().slice(before)
    expect(vm.exists(VM_PATHS.rebootMarker)).toBe(false)
    expect(later.some((c) => c.startsWith('apt-get') || c.startsWith('ubuntu-drivers'))).toBe(false)
    expect(later.filter((c) => c.startsWith('docker run '))).toEqual([
      'docker run -d --name ollama --restart unless-stopped -p 127.0.0.1:11434:11434 -v ollama:/root/.ollama -e OLLAMA_NO_CLOUD=1 -e OLLAMA_KEEP_ALIVE=30m --gpus=all ollama/ollama:0.32.15',
    ])
    expect(later).toContain('docker exec ollama nvidia-smi -L')
    expect(vm.status()).toMatchObject({ state: 'ready', percent: 100, gpu: true })
    const phases = vm.history().map((h) => h.phase)
    expect(phases).toEqual([
      'booting',
      'packages',
      'docker',
      'gpu-driver',
      'gpu-driver',
      'gpu-driver',
      'image-pull',
      'ollama-start',
      'health',
      'ready',
    ])
    expectMonotonic(vm.history())
  })

  it('needs no reboot when the driver loads at once', () => {
    const vm = fakeVm({ gpu: true, ubuntu: '24.04' })
    expect(vm.run('first-boot').status).toBe(0)
    expect(vm.exists(VM_PATHS.rebootMarker)).toBe(false)
    expect(vm.status()).toMatchObject({ state: 'ready', gpu: true })
    expect(vm.log()).not.toContain('warning: this recipe was generated for')
  })

  it('reports nvidia-smi failing after the reboot in the boot status', () => {
    const vm = fakeVm({ gpu: true })
    vm.set('nvidia-broken', true)
    expect(vm.run('first-boot').status).toBe(0)
    const result = vm.run('resume') // still broken after the reboot
    expect(result.status).toBe(1)
    expect(vm.status()).toMatchObject({
      state: 'failed',
      phase: 'gpu-driver',
      gpu: true,
      error:
        "gpu-driver failed: nvidia-smi found no working GPU after the reboot: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    })
    // Never a reboot loop.
    expect(vm.exists(VM_PATHS.rebootMarker)).toBe(false)
    expect(vm.calls()).not.toContain('systemctl --no-block reboot')
  })

  it('reboots by itself when a later boot (not cloud-init) finds the driver missing', () => {
    const vm = fakeVm({ gpu: true })
    vm.failOn('^ubuntu-drivers')
    expect(vm.run('first-boot').status).toBe(1)
    expect(vm.status()).toMatchObject({ state: 'failed', phase: 'gpu-driver' })
    vm.failOn()
    vm.set('nvidia-broken', true)
    expect(vm.run('resume').status).toBe(0)
    expect(vm.calls()).toContain('systemctl --no-block reboot')
    expect(vm.status()).toMatchObject({ state: 'running', phase: 'gpu-driver', error: null })
  })

  it('warns (only) when the VM runs another Ubuntu than the recipe was made for', () => {
    const vm = fakeVm({ gpu: false })
    writeFileSync(path.join(vm.root, 'etc/os-release'), 'VERSION_ID="24.04"\n')
    expect(vm.run('first-boot').status).toBe(0)
    expect(vm.log()).toContain(
      "warning: this recipe was generated for Ubuntu 22.04 but the VM runs '24.04'",
    )
  })
})
