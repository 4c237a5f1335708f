import { describe, expect, it } from 'vitest'
import type { CloudFile } from './cloud-config.js'
import { findWatchdogUnit, parseTimeSpan } from './watchdog.js'

const file = (path: string, content: string): [string, CloudFile] => [
  path,
  { path, content: Buffer.from(content), mode: 0o644, owner: 'root:root', append: false },
]

describe('parseTimeSpan', () => {
  it('reads systemd time spans', () => {
    expect(parseTimeSpan('1min')).toBe(60_000)
    expect(parseTimeSpan('90')).toBe(90_000)
    expect(parseTimeSpan('1min 30s')).toBe(90_000)
    expect(parseTimeSpan('2h')).toBe(7_200_000)
    expect(parseTimeSpan('500ms')).toBe(500)
    expect(parseTimeSpan('soon')).toBeUndefined()
  })
})

describe('findWatchdogUnit', () => {
  it('follows a timer to its service, script and environment file', () => {
    const files = new Map([
      file('/etc/systemd/system/w.timer', '[Timer]\nOnBootSec=2min\nOnUnitActiveSec=30s\n'),
      file(
        '/etc/systemd/system/w.service',
        '[Service]\nType=oneshot\nEnvironmentFile=-/etc/w.env\nExecStart=/usr/local/sbin/w run\n',
      ),
      file('/usr/local/sbin/w', '#!/bin/bash\n'),
    ])
    expect(findWatchdogUnit(files)).toEqual({
      scriptPath: '/usr/local/sbin/w',
      environmentFile: '/etc/w.env',
      firstMs: 120_000,
      intervalMs: 30_000,
    })
  })

  it('finds nothing when the service runs a script the user-data does not write', () => {
    const files = new Map([
      file('/etc/systemd/system/w.timer', '[Timer]\nOnUnitActiveSec=1min\n'),
      file('/etc/systemd/system/w.service', '[Service]\nExecStart=/usr/bin/true\n'),
    ])
    expect(findWatchdogUnit(files)).toBeUndefined()
  })
})
