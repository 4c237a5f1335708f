/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
  env: Record<string, string | undefined>
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); `serve` waits on it. */
  shutdownSignal?: AbortSignal
}
