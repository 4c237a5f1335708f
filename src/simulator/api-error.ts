/**
 * An error the simulated API answers with: an HTTP status and `{"message": ...}`, the classic
 * Exoscale error body (see docs/architecture.md, "Exoscale error mapping").
 */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message)
export const notFound = (message: string): ApiError => new ApiError(404, message)
export const conflict = (message: string): ApiError => new ApiError(409, message)
export const forbidden = (message: string): ApiError => new ApiError(403, message)

/** The exact body the client maps to `exoscale_quota_exceeded`. */
export const quotaExceeded = (resource: string, limit: number): ApiError =>
  new ApiError(403, `Quota exceeded for resource ${resource} (limit ${limit})`)
