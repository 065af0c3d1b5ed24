/**
 * Action keys (the part of a cache key the user sees: `get_user:123`).
 *
 * - one key param: `<action>:<value>`; several: values joined by `:` in the
 *   order of `keys`; no `keys` option: the single param's value when params have
 *   exactly one property holding a simple value (`{ id: 123 }` -> `get_user:123`),
 *   otherwise the canonical form of all params (property order does not matter);
 *   no params: `<action>`.
 * - Simple values stay readable (`123`, `alice`); a string that could be read as
 *   something else (`"123"`, `"true"`, `"a:b"`) is JSON-quoted, so `{id: 123}`
 *   and `{id: '123'}` get different keys. Objects use a canonical form with
 *   sorted properties. Every encoded value is self-delimiting, so two different
 *   values of the same key params never share a key.
 * - Keys longer than `maxKeyLength` become `<action>:#<sha256 base64url>`.
 */
import { createHash } from 'node:crypto';
import type { RequestContext } from '../../node/context.js';
import type { Params } from '../../node/types.js';

const SAFE = /^[A-Za-z0-9_\-.@]+$/;
const LITERALS = new Set(['true', 'false', 'null', 'undefined', 'NaN', 'Infinity', '-Infinity', '-0']);
const MAX_DEPTH = 32;

function safeString(s: string): boolean {
  return SAFE.test(s) && !LITERALS.has(s) && String(Number(s)) !== s && !/^-?\d+n$/.test(s);
}

/** Encodes one value of a key param; readable for simple values, canonical for the rest. */
export function encodeKeyValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'string':
      return safeString(value) ? value : JSON.stringify(value);
    default:
      return canonical(value, 0);
  }
}

/** A canonical, self-delimiting text of any value: objects with sorted properties. */
export function canonical(value: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) throw new TypeError('cache key params nest too deeply');
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'function':
    case 'symbol':
      throw new TypeError(`a ${typeof value} cannot be part of a cache key`);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, depth + 1)).join(',')}]`;
  if (value instanceof Date)
    return `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  if (value instanceof Uint8Array)
    return `Bytes(${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')})`;
  if (value instanceof Map) {
    const entries = [...value]
      .map(([k, v]) => `${canonical(k, depth + 1)}=>${canonical(v, depth + 1)}`)
      .sort();
    return `Map(${entries.join(',')})`;
  }
  if (value instanceof Set)
    return `Set(${[...value]
      .map((v) => canonical(v, depth + 1))
      .sort()
      .join(',')})`;
  const obj = value as Record<string, unknown>;
  const names = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${names.map((k) => `${JSON.stringify(k)}:${canonical(obj[k], depth + 1)}`).join(',')}}`;
}

function isSimple(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint' || v === null;
}

/** The key of an action without a `keys` option, from all its params. */
export function keyFromAllParams(action: string, params: Params): string {
  let only: string | undefined;
  let count = 0;
  for (const k in params) {
    if (params[k] === undefined) continue;
    only = k;
    if (++count > 1) break;
  }
  if (count === 0) return action;
  if (count === 1 && isSimple(params[only!])) return `${action}:${encodeKeyValue(params[only!])}`;
  return `${action}:${canonical(params)}`;
}

/** Shortens an over-long action key with a hash, keeping the action name readable. */
export function hashKey(action: string, key: string): string {
  return `${action}:#${createHash('sha256').update(key).digest('base64url')}`;
}

function getter(path: string): (params: Params) => unknown {
  if (!path.includes('.')) return (p) => p[path];
  const parts = path.split('.');
  return (p) => {
    let v: unknown = p;
    for (const part of parts) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[part];
    }
    return v;
  };
}

/** Builds an action key from params and context. */
export type KeyBuilder = (params: Params, ctx: RequestContext) => string;

/** Compiles the key builder of one action once, so the hit path does no option lookups. */
export function compileKeyBuilder(
  action: string,
  options: { keys?: readonly string[]; key?: (params: any, ctx: RequestContext) => string },
  maxKeyLength: number,
): KeyBuilder {
  const limit = (k: string) => (k.length > maxKeyLength ? hashKey(action, k) : k);
  if (options.key !== undefined) {
    const custom = options.key;
    return (params, ctx) => {
      const k = custom(params, ctx);
      if (typeof k !== 'string' || k.length === 0)
        throw new TypeError(`cache key function of '${action}' must return a non-empty string`);
      return limit(k);
    };
  }
  const keys = options.keys;
  if (keys === undefined) return (params) => limit(keyFromAllParams(action, params));
  if (keys.length === 0) return () => action;
  const head = `${action}:`;
  if (keys.length === 1) {
    const get = getter(keys[0]);
    return (params) => {
      const v = get(params);
      return limit(head + (typeof v === 'number' && !Object.is(v, -0) ? String(v) : encodeKeyValue(v)));
    };
  }
  const getters = keys.map(getter);
  return (params) => {
    let k = head + encodeKeyValue(getters[0](params));
    for (let i = 1; i < getters.length; i++) k += `:${encodeKeyValue(getters[i](params))}`;
    return limit(k);
  };
}

/**
 * For the memory backend's secondary index: the raw value that identifies an
 * entry of this action by itself (a number other than -0, or a string), or
 * undefined when the full key must be used. Defined for `keys: [one]` and for
 * actions without `keys` whose params have a single simple property.
 */
export type FastKey = (params: Params) => number | string | undefined;

function fast(v: unknown): number | string | undefined {
  return (typeof v === 'number' && !Object.is(v, -0)) || typeof v === 'string' ? v : undefined;
}

/** Compiles the fast key of an action, or undefined when it has none. */
export function compileFastKey(
  options: { keys?: readonly string[]; key?: unknown },
  maxKeyLength: number,
): FastKey | undefined {
  if (options.key !== undefined) return undefined;
  const keys = options.keys;
  const fits = (v: number | string | undefined) =>
    typeof v === 'string' && v.length * 2 + 16 > maxKeyLength ? undefined : v;
  if (keys === undefined) {
    return (params) => {
      let only: string | undefined;
      for (const k in params) {
        if (params[k] === undefined) continue;
        if (only !== undefined) return undefined;
        only = k;
      }
      return only === undefined ? undefined : fits(fast(params[only]));
    };
  }
  if (keys.length !== 1) return undefined;
  const get = getter(keys[0]);
  return (params) => fits(fast(get(params)));
}
