// Copies non-TypeScript runtime assets (dashboard files) next to the compiled output.
import { cpSync, existsSync } from 'node:fs'

const assets = [['src/dashboard/static', 'dist/dashboard/static']]
for (const [from, to] of assets) {
  if (existsSync(from)) cpSync(from, to, { recursive: true })
}
