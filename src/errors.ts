/**
 * Stable error codes of meshcache. Callers branch on `code`, never on messages.
 */
export type MeshErrorCode =
  | 'NOT_FOUND'
  | 'INVALID_PARAMS'
  | 'TIMEOUT'
  | 'CONFLICT'
  | 'ACCESS_DENIED'
  | 'CONFIG_INVALID'
  | 'NOT_STARTED'
  | 'STOPPED'
  | 'BACKEND_ERROR'
  | 'NETWORK_ERROR';

/** The one error type meshcache throws. `details` carries machine-readable context. */
export class MeshError extends Error {
  override readonly name = 'MeshError';
  readonly code: MeshErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: MeshErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.details = details;
  }

  /** True when `err` is a MeshError, optionally with the given code. */
  static is(err: unknown, code?: MeshErrorCode): err is MeshError {
    return err instanceof MeshError && (code === undefined || err.code === code);
  }
}
