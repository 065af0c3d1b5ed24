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
