import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { SETTING_NAMES } from '../src/config/index.js'

// Docker is not available on this machine, so these checks keep the files consistent with the
// product instead: setting names, the entry point and where state lives.
const root = path.resolve(import.meta.dirname, '..')
const read = (name: string) => readFileSync(path.join(root, name), 'utf8')

describe('docker-compose.yml and Dockerfile', () => {
  const compose = parse(read('docker-compose.yml')) as {
    services: Record<string, { environment: string[]; volumes: string[] }>
  }
  const service = compose.services.exollama
  const dockerfile = read('Dockerfile')
  const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> }

  it('passes only real settings through the environment', () => {
    expect(service).toBeDefined()
    const names = service!.environment.map((entry) => entry.split('=')[0])
    expect(names.length).toBeGreaterThan(3)
    for (const name of names) expect(SETTING_NAMES, name).toContain(name)
  })

  it('keeps state on a volume at the data dir the image sets', () => {
    expect(dockerfile).toMatch(/EXOLLAMA_DATA_DIR=\/data/)
    expect(service!.volumes.some((v) => v.endsWith(':/data'))).toBe(true)
  })

  it('runs the package bin with the serve command', () => {
    expect(pkg.bin.exollama).toBe('dist/main.js')
    expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/main.js"]')
    expect(dockerfile).toContain('CMD ["serve"]')
  })
})
