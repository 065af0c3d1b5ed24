/**
 * Keeps cached values safe from callers that mutate what they got.
 *
 * The in-memory backend holds references, so the caching layer stores a copy
 * of the handler's result, never the result itself. Plain data (objects,
 * arrays, primitives: what JSON can hold) is copied once at store time and
 * deep-frozen: every hit returns that frozen copy at zero cost, and a caller
 * that tries to mutate it gets a TypeError in strict mode (ESM is strict).
 * Values holding Dates, Maps, Sets, typed arrays or class instances cannot be
 * frozen meaningfully (a frozen Map still has `set`), so they are stored as a
 * copy and every hit returns a fresh copy of it (cost: one deep copy per hit).
 */

import { CacheEnvelope } from '../../codec/envelope.js';
// An own `__proto__` key (JSON.parse makes them) stays an own key: `out[k] = v` would set the prototype.
import { put } from '../../codec/wire.js';

export { CacheEnvelope };

interface CopyState {
  plain: boolean;
  seen: Map<object, unknown>;
  freeze: boolean;
}

function copyInto(value: unknown, state: CopyState): unknown {
  if (value === null || typeof value !== 'object') return value;
  const done = state.seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    state.seen.set(value, out);
    for (let i = 0; i < value.length; i++) out[i] = copyInto(value[i], state);
    return state.freeze ? Object.freeze(out) : out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
    state.seen.set(value, out);
    for (const k of Object.keys(value)) put(out, k, copyInto((value as Record<string, unknown>)[k], state));
    return state.freeze ? Object.freeze(out) : out;
  }
  state.plain = false;
  if (value instanceof Date) return new Date(value.getTime());
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return (value as unknown as { slice(): unknown }).slice();
  if (value instanceof Map) {
    const out = new Map();
    state.seen.set(value, out);
    for (const [k, v] of value) out.set(copyInto(k, state), copyInto(v, state));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set();
    state.seen.set(value, out);
    for (const v of value) out.add(copyInto(v, state));
    return out;
  }
  // A class instance: same prototype, own properties copied.
  const out = Object.create(proto) as Record<string, unknown>;
  state.seen.set(value, out);
  for (const k of Object.keys(value)) put(out, k, copyInto((value as Record<string, unknown>)[k], state));
  return out;
}

/** A deep copy of `value` (prototypes kept), unfrozen. */
export function deepCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  return copyInto(value, { plain: true, seen: new Map(), freeze: false });
}

/**
 * The form a reference-holding backend should store: a frozen copy for plain
 * data (`plain: true`), else an unfrozen private copy to be copied on read.
 */
export function snapshot(value: unknown): { value: unknown; plain: boolean } {
  if (value === null || typeof value !== 'object') return { value, plain: true };
  const state: CopyState = { plain: true, seen: new Map(), freeze: true };
  const copy = copyInto(value, state);
  if (state.plain) return { value: copy, plain: true };
  return { value: deepCopy(value), plain: false };
}
