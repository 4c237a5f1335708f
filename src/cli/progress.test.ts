import { describe, expect, it } from 'vitest'
import { ManualClock } from '../shared/index.js'
import { ProgressDisplay } from './progress.js'
import { createStyle } from './style.js'

function display(options: { live: boolean; colour?: boolean; columns?: number }) {
  const clock = new ManualClock(1_000_000)
  let text = ''
  const progress = new ProgressDisplay({
    write: (s) => (text += s),
    live: options.live,
    style: createStyle(options.colour ?? false),
    clock,
    startedAt: clock.now(),
    ...(options.columns ? { columns: options.columns } : {}),
  })
  return { progress, clock, text: () => text }
}

describe('ProgressDisplay', () => {
  it('on a terminal redraws the elapsed time on its own, and stops its timer when done', async () => {
    const d = display({ live: true })
    d.progress.update({ kind: 'phase', phase: 'provisioning', elapsedMs: 0 })
    expect(d.text()).toContain('provisioning')
    await d.clock.advance(3000)
    const last = d.text().split('\r').at(-1) ?? ''
    expect(last).toMatch(/provisioning\s+3\.0s/)
    d.progress.update({ kind: 'phase', phase: 'ready', elapsedMs: 3000 })
    d.progress.finish()
    expect(d.clock.pendingCount).toBe(0)
    expect(d.text()).toMatch(/✓ provisioning\s+3\.0s\n/)
    expect(d.text().endsWith('✓ ready        after 3.0s\n')).toBe(true)
  })

  it('without colours overwrites a longer line with spaces and uses no escape codes', () => {
    const d = display({ live: true })
    d.progress.update({
      kind: 'phase',
      phase: 'booting',
      elapsedMs: 0,
      message: 'a long message here',
    })
    d.progress.update({ kind: 'phase', phase: 'booting', elapsedMs: 10, message: 'short' })
    const frames = d.text().split('\r').filter(Boolean)
    expect(frames[1]?.length).toBe(frames[0]?.length)
    expect(frames[1]).toMatch(/short {14}$/)
    expect(d.text()).not.toContain('\u001b')
    d.progress.finish()
  })

  it('cuts live lines to the terminal width', () => {
    const d = display({ live: true, columns: 30 })
    d.progress.update({ kind: 'phase', phase: 'booting', elapsedMs: 0, message: 'x'.repeat(100) })
    const frame = d.text().split('\r').at(-1) ?? ''
    expect(frame.length).toBe(29)
    expect(frame.endsWith('…')).toBe(true)
    d.progress.abort()
  })

  it('ends a failed step with a cross and a line break', () => {
    const d = display({ live: true, colour: true })
    d.progress.update({ kind: 'phase', phase: 'booting', elapsedMs: 0 })
    d.progress.abort()
    expect(d.text()).toContain('\r\u001b[2K\u001b[31m✗\u001b[39m ')
    expect(d.text().endsWith('\n')).toBe(true)
    expect(d.text().split('✗')[1]).toContain('booting')
    d.progress.update({ kind: 'phase', phase: 'ready', elapsedMs: 1 })
    expect(d.text()).not.toContain('ready')
  })

  it('in plain mode prints a line per phase and boot step, not per percent', () => {
    const d = display({ live: false })
    d.progress.update({
      kind: 'phase',
      phase: 'booting',
      elapsedMs: 1000,
      boot: { phase: 'docker', percent: 40 },
    })
    d.progress.update({
      kind: 'phase',
      phase: 'booting',
      elapsedMs: 2000,
      boot: { phase: 'docker', percent: 45 },
    })
    d.progress.update({
      kind: 'phase',
      phase: 'booting',
      elapsedMs: 3000,
      boot: { phase: 'image-pull', percent: 50 },
    })
    d.progress.finish()
    expect(d.text()).toBe(
      '[   1.0s] booting  boot: docker 40%\n[   3.0s] booting  boot: image-pull 50%\n',
    )
  })

  it('in plain mode prints a download at each quarter', () => {
    const d = display({ live: false })
    const total = 1000
    for (const completed of [0, 100, 260, 300, 510, 760, 990, 1000]) {
      d.progress.update({ kind: 'pull', model: 'm', status: 'pulling abc', completed, total })
    }
    const percents = d.text().match(/\d+%/g)
    expect(percents).toEqual(['0%', '26%', '51%', '76%', '100%'])
  })
})
