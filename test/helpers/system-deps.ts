import { execFileSync } from 'node:child_process'

/**
 * Whether a system tool (nginx, chromium) is installed. Tests that need one skip loudly when it
 * is absent, except under EXOLLAMA_REQUIRE_SYSTEM_DEPS=1 (CI), where a missing tool fails.
 */
export function systemTool(name: string, probeArgs: string[] = ['-v']): string | undefined {
  const candidates = [name, `/usr/sbin/${name}`, `/usr/bin/${name}`]
  for (const bin of candidates) {
    try {
      execFileSync(bin, probeArgs, { stdio: 'ignore', timeout: 20_000 })
      return bin
    } catch {
      // try the next place
    }
  }
  if (process.env.EXOLLAMA_REQUIRE_SYSTEM_DEPS === '1') {
    throw new Error(
      `${name} is required (EXOLLAMA_REQUIRE_SYSTEM_DEPS=1) but was not found: apt-get install ${name}`,
    )
  }
  console.warn(
    `\n*** SKIPPING tests that need ${name}: it is not installed (apt-get install ${name}) ***\n`,
  )
  return undefined
}
