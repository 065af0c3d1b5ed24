/**
 * The value codec for backends that store bytes outside the process (Redis, DHT)
 * and for network events.
 *
 * Wire format: JSON, where values JSON cannot express are tagged objects
 * `{"$mc": <tag>, "v": <payload>}`. Tags: `date`, `bigint`, `bytes` (Buffer,
 * base64), `ta` (other typed arrays: `[class name, base64]`), `map`, `set`,
 * `undef`, `num` (NaN, ±Infinity, -0), `holes` (a sparse array:
 * `[length, index, value, ...]`), `box` (a boxed primitive), `obj` (a plain
 * object that itself has a `$mc` property, escaped so it cannot be mistaken
 * for a tag), `env` (the caching layer's `CacheEnvelope`). Plain data is byte
 * for byte what `JSON.stringify` writes, so values stay readable in `redis-cli`.
 * Own `__proto__` keys stay own keys both ways; `toJSON(key)` is honoured as
 * `JSON.stringify` does (Dates excepted: they keep their tag).
 *
 * Decoding is for untrusted text (a shared Redis, a DHT peer): anything that is
 * not a value of this codec raises `CodecError` (the backends treat it as a
 * miss), never touches a prototype, and allocates in proportion to the input
 * (sparse array lengths and BigInt digits are bounded: `MAX_SPARSE_LENGTH`,
 * `MAX_BIGINT_DIGITS`).
 *
 * Why not v8.serialize, msgpackr, devalue or superjson: see `npm run bench -- codec`
 * and BENCHMARKS.md: none keeps own `__proto__` keys *and* honours
 * toJSON, v8's format is binary (base64 on the DHT record and event wire, no
 * longer readable) and versioned by the Node release that wrote it.
 */
import { CacheEnvelope } from './envelope.js';
import {
  type EnvelopeWire,
  MAX_BIGINT_DIGITS,
  MAX_SPARSE_LENGTH,
  put,
  TAG,
  TYPED_ARRAYS,
  type TypedArrayName,
  tagged,
  type Wire,
} from './wire.js';

export { decodeValue } from './decode.js';
export { CodecError, MAX_BIGINT_DIGITS, MAX_SPARSE_LENGTH } from './wire.js';

function base64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

/**
 * Converts a value to its wire tree. Copy on write: a subtree that JSON
 * already represents exactly is returned as is (no allocation), so plain data
 * costs one walk before `JSON.stringify`. `key` is the property name for
 * `toJSON(key)`, as `JSON.stringify` passes it ('' at the top, the index in arrays).
 */
function toWire(value: unknown, seen: Set<object>, key: string, callToJSON = true): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return tagged('num', Object.is(value, -0) ? '-0' : String(value));
    case 'bigint': {
      const text = value.toString();
      if (text.length > MAX_BIGINT_DIGITS + 1)
        throw new TypeError(`cannot encode a BigInt of more than ${MAX_BIGINT_DIGITS} digits`);
      return tagged('bigint', text);
    }
    case 'undefined':
      return tagged('undef', null);
    case 'function':
    case 'symbol':
      throw new TypeError(`cannot encode a ${typeof value}`);
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) throw new TypeError('cannot encode a circular structure');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return arrayToWire(obj, seen);
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const special = specialToWire(obj, seen);
      if (special !== undefined) return special;
    }
    if (callToJSON) {
      const toJSON = (obj as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        seen.delete(obj);
        return toWire(toJSON.call(obj, key), seen, key, false);
      }
    } else if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
      // What toJSON returned is not asked again (as JSON.stringify), so it must not reach JSON.stringify as is.
      return objectToWire(obj as Record<string, unknown>, seen, true);
    }
    return objectToWire(obj as Record<string, unknown>, seen);
  } finally {
    seen.delete(obj);
  }
}

function arrayToWire(arr: unknown[], seen: Set<object>): unknown {
  const n = arr.length;
  let out: unknown[] | undefined;
  for (let i = 0; i < n; i++) {
    if (!(i in arr)) return sparseToWire(arr, seen);
    const item = arr[i];
    const w = toWire(item, seen, String(i));
    if (w !== item && out === undefined) out = arr.slice(0, i);
    if (out !== undefined) out.push(w);
  }
  return out ?? arr;
}

/** An array with holes: `{"$mc":"holes","v":[length, index, value, index, value, ...]}`. */
function sparseToWire(arr: unknown[], seen: Set<object>): Wire {
  if (arr.length > MAX_SPARSE_LENGTH)
    throw new TypeError(`cannot encode a sparse array longer than ${MAX_SPARSE_LENGTH}`);
  const v: Wire[] = [arr.length];
  for (const k of Object.keys(arr)) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i >= arr.length) continue;
    v.push(i, toWire(arr[i], seen, k) as Wire);
  }
  return tagged('holes', v);
}

/** Set while `encodeStrict` runs: a function or symbol property is refused, not dropped. */
let strict = false;

function objectToWire(obj: Record<string, unknown>, seen: Set<object>, copy = false): unknown {
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined = copy ? {} : undefined;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = obj[k];
    if (typeof v === 'function' || typeof v === 'symbol') {
      if (strict) throw new TypeError(`cannot encode a ${typeof v} (property ${JSON.stringify(k)})`);
      // JSON drops these properties; an explicit copy must drop them too.
      if (out === undefined) out = copyKeys(obj, keys, i);
      continue;
    }
    const w = toWire(v, seen, k);
    if (w !== v && out === undefined) out = copyKeys(obj, keys, i);
    if (out !== undefined) put(out, k, w);
  }
  if (Object.hasOwn(obj, TAG)) return tagged('obj', (out ?? { ...obj }) as Wire);
  // A class instance without toJSON goes out as its own enumerable properties.
  return out ?? obj;
}

function copyKeys(obj: Record<string, unknown>, keys: string[], upTo: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let j = 0; j < upTo; j++) {
    const v = obj[keys[j]];
    if (typeof v !== 'function' && typeof v !== 'symbol') put(out, keys[j], v);
  }
  return out;
}

/** Dates, bytes, typed arrays, Maps, Sets, boxed primitives, the envelope; undefined for anything else. */
function specialToWire(obj: object, seen: Set<object>): Wire | undefined {
  if (obj instanceof Date) return tagged('date', Number.isNaN(obj.getTime()) ? null : obj.toISOString());
  if (ArrayBuffer.isView(obj)) {
    if (Buffer.isBuffer(obj)) return tagged('bytes', base64(obj));
    const name = obj.constructor?.name;
    if (Object.hasOwn(TYPED_ARRAYS, name) && obj instanceof TYPED_ARRAYS[name as TypedArrayName])
      return tagged('ta', [name, base64(obj)]);
    return undefined;
  }
  if (obj instanceof Map)
    return tagged(
      'map',
      [...obj].map(([k, v]) => [toWire(k, seen, '') as Wire, toWire(v, seen, '') as Wire]),
    );
  if (obj instanceof Set)
    return tagged(
      'set',
      [...obj].map((v) => toWire(v, seen, '') as Wire),
    );
  if (obj instanceof CacheEnvelope)
    return tagged('env', envelopeWire(obj, toWire(obj.value, seen, '') as Wire) as unknown as Wire);
  if (obj instanceof String || obj instanceof Number || obj instanceof Boolean || obj instanceof BigInt)
    return tagged('box', toWire(obj.valueOf(), seen, '') as Wire);
  if (obj instanceof Symbol) throw new TypeError('cannot encode a symbol');
  return undefined;
}

/** Serializes a cache value to a string. Throws TypeError for functions, symbols and cycles. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(toWire(value, new Set(), ''));
}

/**
 * Like `encodeValue`, but a function or symbol anywhere (also as a property,
 * which JSON and `encodeValue` drop) is refused: for values whose every part
 * must arrive, such as the params of a remote call.
 */
export function encodeStrict(value: unknown): string {
  strict = true;
  try {
    return encodeValue(value);
  } finally {
    strict = false;
  }
}

/** The envelope's wire form: `{ v, f }`, plus `s` (staleUntil), `t` (tags), `w` (writtenAt) when set. */
function envelopeWire(env: CacheEnvelope, v: Wire): EnvelopeWire {
  const out: EnvelopeWire = { v, f: env.freshUntil };
  if (env.staleUntil !== 0) out.s = env.staleUntil;
  if (env.tags !== undefined) {
    out.t = [...env.tags];
    out.w = env.writtenAt;
  }
  return out;
}
