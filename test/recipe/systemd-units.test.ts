import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { VM_PATHS } from '../../src/recipe/constants.js'
import {
  BOOT_UNIT,
  DOCKER_DROP_IN,
  WATCHDOG_SERVICE,
  WATCHDOG_TIMER,
} from '../../src/recipe/systemd-units.js'

// Optional here (CI images need not have systemd); the units are plain text otherwise.
const analyze = spawnSync('systemd-analyze', ['--version']).status === 0

describe.skipIf(!analyze)('the systemd units, checked by systemd-analyze verify', () => {
  it('have no unknown keys or bad settings (only the scripts are missing off the VM)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'exollama-units-'))
    try {
      const units = {
        'exollama-boot.service': BOOT_UNIT,
        'exollama-watchdog.service': WATCHDOG_SERVICE,
        'exollama-watchdog.timer': WATCHDOG_TIMER,
        'exollama-broken.service': '[Service]\nExecStrt=/bin/true\n',
      }
      for (const [name, text] of Object.entries(units)) writeFileSync(path.join(dir, name), text)
      const result = spawnSync(
        'systemd-analyze',
        ['verify', '--man=no', ...Object.keys(units).map((n) => path.join(dir, n))],
        { encoding: 'utf8', cwd: dir },
      )
      const complaints = `${result.stdout}${result.stderr}`.trim().split('\n').filter(Boolean)
      const expected = [VM_PATHS.bootScript, VM_PATHS.watchdogScript].map(
        (p) => `Command ${p} is not executable`,
      )
      const ours = complaints.filter((l) => !l.includes('exollama-broken'))
      expect(ours.every((l) => expected.some((e) => l.includes(e)))).toBe(true)
      // The check is real: the broken unit is reported.
      expect(complaints.some((l) => l.includes("Unknown key 'ExecStrt'"))).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the systemd units', () => {
  it('run the scripts the user-data installs, with the settings file', () => {
    expect(BOOT_UNIT).toContain(`ExecStart=${VM_PATHS.bootScript} resume`)
    expect(WATCHDOG_SERVICE).toContain(`ExecStart=${VM_PATHS.watchdogScript} run`)
    expect(WATCHDOG_SERVICE).toContain(`EnvironmentFile=${VM_PATHS.recipeEnv}`)
    expect(WATCHDOG_TIMER).toMatch(/OnUnitActiveSec=1min/)
    expect(DOCKER_DROP_IN).toBe(`[Service]\nExecStartPost=${VM_PATHS.bootScript} block-metadata\n`)
  })
})
