/**
 * The catalog of meshcache's error codes, the `MeshError` class, and the one
 * conversion of a zod validation failure into a `MeshError`.
 *
 * What is thrown: every error meshcache raises at run time (configuration,
 * params, requests, backends, the network) is a `MeshError` with a stable
 * `code`; callers branch on `code`, never on messages. Two exceptions, both
 * programming mistakes found while the code is being loaded, not at run time:
 * a decorator put on the wrong kind of member throws a `TypeError` at class
 * definition, and encoding a value that cannot be stored (a function, a
 * cycle) throws a `TypeError` that the caching layer catches, logs and
 * answers by calling the handler without caching. An error thrown by a
 * handler reaches its caller unchanged.
 */
import type { ZodError } from 'zod';

/** Every code, with what it means. */
export const ERROR_CODES = {
  NOT_FOUND: 'an unknown service, action, or something a service injects that was not provided',
  INVALID_PARAMS: 'params or options of a call (or of a backend method) that are not acceptable',
  TIMEOUT: 'a request past its deadline',
  CONFLICT: 'a name registered twice, a reserved name, or start() while starting',
  ACCESS_DENIED: 'a caller that may not run a management action',
  CONFIG_INVALID: 'a configuration (file, environment, code or declaration) that is not acceptable',
  NOT_STARTED: 'a request before node.start()',
  STOPPED: 'a request after node.stop()',
  BACKEND_ERROR: 'a management operation that a backend failed or cannot do',
  NETWORK_ERROR: 'the P2P network could not be joined',
} as const;

/** Stable error codes of meshcache. */
export type MeshErrorCode = keyof typeof ERROR_CODES;

/** The error meshcache throws (see the file comment for the two exceptions). `details` carries machine-readable context. */
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

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/**
 * The innermost issue of a union (`cache: true | {...}`): the branch that got
 * past the shape check names the real field (`...cache.ttl`), not the union.
 */
function leafIssue(issue: Issue): Issue {
  if (issue.code !== 'invalid_union' || issue.errors === undefined) return issue;
  const deeper = issue.errors.find((branch) => branch.length > 0 && branch[0].path.length > 0);
  if (deeper === undefined) return { ...issue, message: 'expected a boolean or an object of cache options' };
  const inner = leafIssue(deeper[0]);
  return { ...inner, path: [...issue.path, ...inner.path] };
}

/** How a zod failure becomes a MeshError. */
export interface ZodErrorContext {
  /** `CONFIG_INVALID` for configuration, `INVALID_PARAMS` for call params. */
  readonly code: 'CONFIG_INVALID' | 'INVALID_PARAMS';
  /** Put before the field path (`network.`, `cache.dht.`); the field names the whole path. */
  readonly fieldPrefix?: string;
  /** Where the value came from, for the message (`file /etc/x.yaml`, `user/cache/delete`). */
  readonly source?: string;
  /** More details to carry. */
  readonly details?: Record<string, unknown>;
}

/** The one conversion of a zod failure into a MeshError: names the first field, counts the rest. */
export function fromZodError(err: ZodError, context: ZodErrorContext): MeshError {
  const issues = (err.issues as unknown as Issue[]).map(leafIssue);
  const prefix = context.fieldPrefix ?? '';
  const name = (i: Issue) => prefix + i.path.map(String).join('.');
  const first = issues[0];
  const field = name(first) || (context.code === 'INVALID_PARAMS' ? '(params)' : '(root)');
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  const where = context.source === undefined ? '' : `${context.source}: `;
  return new MeshError(context.code, `${where}${field}: ${first.message}${more}`, {
    field,
    ...(context.source === undefined ? {} : { source: context.source }),
    issues: issues.map((i) => ({ field: name(i), message: i.message })),
    ...context.details,
  });
}

/** INVALID_PARAMS for the params of a call to `path`. */
export function badParams(path: string, err: ZodError): MeshError {
  return fromZodError(err, { code: 'INVALID_PARAMS', source: path, details: { path } });
}
