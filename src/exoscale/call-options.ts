/** Options every API call accepts. */
export interface CallOptions {
  /** Aborts the call (and its retries); the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined
}

/** Options of the waits (operations, instance states). */
export interface WaitOptions extends CallOptions {
  /** Absolute time (milliseconds on the client's Clock) after which the wait fails. */
  deadline?: number | undefined
  /** Relative alternative to `deadline`, counted from the call; the earlier one wins. */
  timeoutMs?: number | undefined
}
