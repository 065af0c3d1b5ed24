/**
 * The catalog of meshcache's error codes, the `MeshError` class, and the one
 * conversion of a validation failure (valibot issues) into a `MeshError`.
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
import { type BaseIssue, getDotPath } from 'valibot';

/** What the catalog says of one code. */
export interface ErrorCodeInfo {
  /** What the code means, in a line. */
  readonly meaning: string;
  /** True when the same call may succeed if tried again unchanged (another member, later). */
  readonly retryable: boolean;
}

/**
 * The catalog: every code meshcache raises, what it means, and whether a
 * caller may retry. A test keeps it, the `MeshErrorCode` type and the README's
 * table in agreement.
 */
export const ERROR_CATALOG = {
  NOT_FOUND: {
    meaning:
      'an unknown service or action (on this node and every member), or something a service injects that was not provided',
    retryable: false,
  },
  INVALID_PARAMS: {
    meaning: 'params or options of a call (or of a backend method) that are not acceptable',
    retryable: false,
  },
  TIMEOUT: { meaning: 'a request past its deadline', retryable: true },
  CONFLICT: {
    meaning: 'a name registered twice, a reserved name, or start() while starting',
    retryable: false,
  },
  ACCESS_DENIED: { meaning: 'a caller that may not run a management action', retryable: false },
  CONFIG_INVALID: {
    meaning: 'a configuration (file, environment, code or declaration) that is not acceptable',
    retryable: false,
  },
  NOT_STARTED: { meaning: 'a request before node.start()', retryable: true },
  STOPPED: { meaning: 'a request after node.stop()', retryable: false },
  BACKEND_ERROR: {
    meaning: 'a management operation that a backend failed or cannot do',
    retryable: true,
  },
  NETWORK_ERROR: { meaning: 'the P2P network could not be joined or used', retryable: true },
  UNAVAILABLE: {
    meaning: 'the member serving a remote request left, stopped answering, or could not be reached',
    retryable: true,
  },
  TOO_LARGE: {
    meaning: 'a remote request or reply larger than network.maxMessageBytes',
    retryable: false,
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** Stable error codes of meshcache. */
export type MeshErrorCode = keyof typeof ERROR_CATALOG;

/** Every code with what it means (the catalog without the flags). */
export const ERROR_CODES = Object.fromEntries(
  Object.entries(ERROR_CATALOG).map(([code, info]) => [code, info.meaning]),
) as { readonly [C in MeshErrorCode]: (typeof ERROR_CATALOG)[C]['meaning'] };

/** True when `code` is one of the catalog's codes. */
export function isMeshErrorCode(code: unknown): code is MeshErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOG, code);
}

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

  /** Whether the same call may succeed if tried again (from the catalog). */
  get retryable(): boolean {
    return ERROR_CATALOG[this.code]?.retryable ?? false;
  }

  /** True when `err` is a MeshError, optionally with the given code. */
  static is(err: unknown, code?: MeshErrorCode): err is MeshError {
    return err instanceof MeshError && (code === undefined || err.code === code);
  }
}

/**
 * An error as it crosses to another node: plain data (its `details` still go
 * through the value codec). No stack: a caller learns what failed, not the
 * callee's file layout.
 */
export interface SerializedError {
  /** `MeshError` for meshcache's own errors, else the error's own name (`TypeError`, `Error`, ...). */
  readonly name: string;
  readonly message: string;
  /** The catalog code of a MeshError, or a string `code` the error carried (`ECONNREFUSED`). */
  readonly code?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The serialized form of any thrown value (a non-Error becomes an `Error` with its text). */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof MeshError)
    return { name: 'MeshError', message: err.message, code: err.code, details: err.details };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      message: err.message,
      ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * Turns a serialized error back into an error on this node: a `MeshError` with
 * the same code, message and details when the code is in this node's catalog;
 * otherwise an `Error` with the name, message and `code` it had.
 */
export function deserializeError(wire: SerializedError): Error {
  const details = wire.details ?? {};
  if (wire.name === 'MeshError' && isMeshErrorCode(wire.code))
    return new MeshError(wire.code, wire.message, { ...details });
  const err = new Error(wire.message);
  if (wire.name !== 'Error')
    Object.defineProperty(err, 'name', { value: wire.name, configurable: true, writable: true });
  if (wire.code !== undefined) (err as Error & { code?: string }).code = wire.code;
  return err;
}

/** Reads a serialized error from untrusted data; undefined when it is not one. */
export function parseSerializedError(raw: unknown): SerializedError | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.name !== 'string' || typeof r.message !== 'string') return undefined;
  if (r.code !== undefined && typeof r.code !== 'string') return undefined;
  if (
    r.details !== undefined &&
    (r.details === null || typeof r.details !== 'object' || Array.isArray(r.details))
  )
    return undefined;
  return {
    name: r.name.slice(0, 200),
    message: r.message,
    ...(r.code === undefined ? {} : { code: r.code }),
    ...(r.details === undefined ? {} : { details: r.details as Record<string, unknown> }),
  };
}

/** A validation issue as valibot reports it (nested issues for unions). */
type Issue = BaseIssue<unknown>;

/**
 * The innermost issue of a union (`cache: true | {...}`): the branch that got
 * past the type check names the real field (`...cache.ttl`), not the union.
 * The issues of a union's branches carry paths relative to the union.
 */
function leafIssue(issue: Issue, base = ''): { path: string; message: string } {
  const own = getDotPath(issue) ?? '';
  const here = base === '' ? own : own === '' ? base : `${base}.${own}`;
  if (issue.type !== 'union' || issue.issues === undefined) return { path: here, message: issue.message };
  const deeper = issue.issues.find((i) => (getDotPath(i) ?? '') !== '');
  if (deeper === undefined)
    return { path: here, message: 'expected a boolean or an object of cache options' };
  return leafIssue(deeper, here);
}

/** How a validation failure becomes a MeshError. */
export interface ValidationContext {
  /** `CONFIG_INVALID` for configuration, `INVALID_PARAMS` for call params. */
  readonly code: 'CONFIG_INVALID' | 'INVALID_PARAMS';
  /** Put before the field path (`network.`, `cache.dht.`); the field names the whole path. */
  readonly fieldPrefix?: string;
  /** Where the value came from, for the message (`file /etc/x.yaml`, `user/cache/delete`). */
  readonly source?: string;
  /** More details to carry. */
  readonly details?: Record<string, unknown>;
}

/**
 * The one conversion of validation issues into a MeshError: names the first field and the others'
 * fields, and words the validator's own messages as a user would ("unknown option", "missing").
 */
export function fromIssues(list: readonly Issue[], context: ValidationContext): MeshError {
  const plain = (message: string): string => {
    const m = /^Invalid (\w+): Expected (.*) but received (.*)$/.exec(message);
    if (m === null) return message;
    const [, label, expected, received] = m;
    if (label === 'key' && expected === 'never')
      return `unknown option ${received.replace(/^"(.*)"$/, "'$1'")}`;
    if (label === 'key' && received === 'undefined') return 'missing (required)';
    if (label === 'type') return `expected ${expected.replace(/^"(.*)"$/, '$1')}, got ${received}`;
    return `expected ${label} ${expected}, got ${received}`;
  };
  const issues = list.map((i) => leafIssue(i)).map((i) => ({ path: i.path, message: plain(i.message) }));
  const prefix = context.fieldPrefix ?? '';
  const name = (i: { path: string }) => (i.path === '' ? prefix.replace(/\.$/, '') : prefix + i.path);
  const first = issues[0] ?? { path: '', message: 'invalid' };
  const field = name(first) || (context.code === 'INVALID_PARAMS' ? '(params)' : '(root)');
  const others = [...new Set(issues.slice(1).map((i) => name(i) || '(root)'))];
  const more = others.length > 0 ? ` (also: ${others.join(', ')})` : '';
  const where = context.source === undefined ? '' : `${context.source}: `;
  return new MeshError(context.code, `${where}${field}: ${first.message}${more}`, {
    field,
    ...(context.source === undefined ? {} : { source: context.source }),
    issues: issues.map((i) => ({ field: name(i), message: i.message })),
    ...context.details,
  });
}

/** INVALID_PARAMS for the params of a call to `path`. */
export function badParams(path: string, issues: readonly Issue[]): MeshError {
  return fromIssues(issues, { code: 'INVALID_PARAMS', source: path, details: { path } });
}
