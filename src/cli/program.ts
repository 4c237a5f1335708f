import { Command } from 'commander'
import type { ActionHost } from './action.js'
import { registerConfig } from './commands/config.js'
import { registerCost } from './commands/cost.js'
import { registerDestroy } from './commands/destroy.js'
import { registerKeys } from './commands/keys.js'
import { registerLogs } from './commands/logs.js'
import { registerModels } from './commands/models.js'
import { registerPull } from './commands/pull.js'
import { registerServe } from './commands/serve.js'
import { registerStart } from './commands/start.js'
import { registerStatus } from './commands/status.js'
import { registerStop } from './commands/stop.js'
import { EXIT_CODES_HELP } from './exit-codes.js'
import { colorEnabled } from './style.js'
import { packageVersion } from './version.js'

const TOP_HELP = `
Examples:
  $ exollama serve                       # gateway on 127.0.0.1:11434 (simulated without credentials)
  $ exollama start                       # create the instance now, with live progress
  $ exollama status --json               # the status object
  $ exollama logs -f                     # follow lifecycle events
  $ exollama config set EXOSCALE_IDLE_TIMEOUT 600
  $ exollama stop                        # power off, keep the disk
  $ exollama destroy                     # delete the instance

Settings come from the environment (which wins), the config file ("exollama config"), and the
exo CLI's exoscale.toml for credentials and zone. All state lives in EXOLLAMA_DATA_DIR.

${EXIT_CODES_HELP}
`

/**
 * The command tree. Commander never prints errors or exits itself: its errors are thrown and
 * reported by `run()` as one line, and help goes to the io's streams.
 */
export function buildProgram(host: ActionHost): Command {
  const { io } = host.env
  const program = new Command('exollama')
    .description('A private Ollama server on Exoscale that exists only while it is used.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--verbose', 'more detail: debug lines, and stack traces on errors')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      // run() prints the one error line itself.
      outputError: () => {},
      getOutHasColors: () => colorEnabled(io.stdout, io.env),
      getErrHasColors: () => colorEnabled(io.stderr, io.env),
      getOutHelpWidth: () => (io.stdout.isTTY ? (io.stdout.columns ?? 80) : 100),
      getErrHelpWidth: () => (io.stderr.isTTY ? (io.stderr.columns ?? 80) : 100),
    })
    .addHelpText('after', TOP_HELP)

  registerServe(program, host)
  registerStatus(program, host)
  registerStart(program, host)
  registerStop(program, host)
  registerDestroy(program, host)
  registerLogs(program, host)
  registerPull(program, host)
  registerModels(program, host)
  registerConfig(program, host)
  registerCost(program, host)
  registerKeys(program, host)
  return program
}
