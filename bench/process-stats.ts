// Answers `{ type: 'stats' }` IPC messages with the process's CPU time and memory.
export interface ProcessStats {
  type: 'stats'
  /** CPU time (user + system) since start, microseconds. */
  cpuMicros: number
  rss: number
  /** Highest RSS seen by a 100 ms sampler. */
  peakRss: number
}

export function serveStats(): () => void {
  let peakRss = process.memoryUsage.rss()
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100)
  const onMessage = (message: { type?: string }) => {
    if (message.type !== 'stats') return
    const cpu = process.cpuUsage()
    const rss = process.memoryUsage.rss()
    peakRss = Math.max(peakRss, rss)
    const stats: ProcessStats = { type: 'stats', cpuMicros: cpu.user + cpu.system, rss, peakRss }
    process.send?.(stats)
  }
  process.on('message', onMessage)
  return () => {
    clearInterval(sampler)
    process.off('message', onMessage)
  }
}
