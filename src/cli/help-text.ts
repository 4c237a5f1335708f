/** The "Examples:" block of a command's --help. */
export function examples(...lines: [command: string, what: string][]): string {
  const width = Math.max(...lines.map(([c]) => c.length))
  return `\nExamples:\n${lines.map(([c, what]) => `  $ ${c.padEnd(width)}  # ${what}`).join('\n')}\n`
}
