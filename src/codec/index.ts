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
 * and BENCHMARKS.md (issue 8): none keeps own `__proto__` keys *and* honours
 * toJSON, v8's format is binary (base64 on the DHT record and event wire, no
 * longer readable) and versioned by the Node release that wrote it.
 */
import { CacheEnvelope } from './envelope.js';

const TAG = '$mc';

/** Raised by `decodeValue` for bytes that are not a value of this codec. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

type Wire = null | boolean | number | string | Wire[] | { [k: string]: Wire };

function tagged(tag: string, v: Wire): Wire {
  return { [TAG]: tag, v };
}

/** Longest sparse array (one with holes) the codec writes or reads: bounds what a decoded length can make callers loop over. */
export const MAX_SPARSE_LENGTH = 2 ** 24;

/** Longest BigInt text (decimal digits) written or read: parsing is superlinear (10M digits: seconds). */
export const MAX_BIGINT_DIGITS = 100_000;

/** Typed arrays by name (the `ta` tag); Buffer and other Uint8Arrays keep their own tags. */
const TYPED_ARRAYS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

function base64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

/** Sets `out[key]` as an own data property, also for `__proto__` (plain assignment would run its setter). */
function put(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
  else out[key] = v;
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

function objectToWire(obj: Record<string, unknown>, seen: Set<object>, copy = false): unknown {
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined = copy ? {} : undefined;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = obj[k];
    if (typeof v === 'function' || typeof v === 'symbol') {
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

/**
 * Converts a freshly parsed wire tree in place (it belongs to us): a tree
 * without tags costs one walk and no allocation, and a `__proto__` property
 * stays an own property instead of being assigned as a prototype.
 */
function fromWire(wire: unknown): unknown {
  if (wire === null || typeof wire !== 'object') return wire;
  if (Array.isArray(wire)) {
    for (let i = 0; i < wire.length; i++) {
      const item = wire[i];
      if (item !== null && typeof item === 'object') wire[i] = fromWire(item);
    }
    return wire;
  }
  const rec = wire as Record<string, unknown>;
  const tag = Object.hasOwn(rec, TAG) ? rec[TAG] : undefined;
  if (tag === undefined) return convertProperties(rec);
  const v = rec.v;
  switch (tag) {
    case 'date':
      return new Date(v === null ? Number.NaN : String(v));
    case 'bigint':
      if (typeof v !== 'string' || v.length > MAX_BIGINT_DIGITS + 1 || !/^-?\d+$/.test(v)) break;
      return BigInt(v);
    case 'bytes':
      return Buffer.from(String(v), 'base64');
    case 'map':
      if (!Array.isArray(v)) break;
      return new Map(v.map((pair) => (Array.isArray(pair) ? [fromWire(pair[0]), fromWire(pair[1])] : bad())));
    case 'set':
      if (!Array.isArray(v)) break;
      return new Set(v.map(fromWire));
    case 'undef':
      return undefined;
    case 'num':
      return v === '-0' ? -0 : Number(v);
    case 'env': {
      if (v === null || typeof v !== 'object' || typeof (v as { f?: unknown }).f !== 'number') break;
      return envelopeFromWire(v as EnvelopeWire, fromWire((v as { v: unknown }).v));
    }
    case 'obj':
      if (v === null || typeof v !== 'object' || Array.isArray(v)) break;
      return convertProperties(v as Record<string, unknown>);
    case 'holes':
      return sparseFromWire(v);
    case 'ta': {
      if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'string') break;
      if (!Object.hasOwn(TYPED_ARRAYS, v[0])) break;
      const Ctor = TYPED_ARRAYS[v[0] as TypedArrayName];
      const bytes = Buffer.from(v[1], 'base64');
      if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT !== 0) break;
      // A fresh, aligned buffer of exactly this length (Buffer.from may return a slice of a shared pool).
      const buf = new ArrayBuffer(bytes.byteLength);
      new Uint8Array(buf).set(bytes);
      return new Ctor(buf);
    }
    case 'box': {
      const inner = fromWire(v);
      switch (typeof inner) {
        case 'string':
        case 'number':
        case 'boolean':
        case 'bigint':
          return Object(inner);
      }
      break;
    }
  }
  return bad();
}

function sparseFromWire(v: unknown): unknown[] {
  if (!Array.isArray(v) || v.length % 2 !== 1) return bad();
  const n = v[0];
  if (!Number.isInteger(n) || n < 0 || n > MAX_SPARSE_LENGTH) return bad();
  const out: unknown[] = new Array(n);
  for (let j = 1; j < v.length; j += 2) {
    const i = v[j];
    if (!Number.isInteger(i) || i < 0 || i >= n) return bad();
    const item = v[j + 1];
    out[i] = item !== null && typeof item === 'object' ? fromWire(item) : item;
  }
  return out;
}

function convertProperties(rec: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(rec)) {
    const v = rec[key];
    if (v === null || typeof v !== 'object') continue;
    const converted = fromWire(v);
    if (converted === v) continue;
    if (key === '__proto__')
      Object.defineProperty(rec, key, {
        value: converted,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    else rec[key] = converted;
  }
  return rec;
}

function bad(): never {
  throw new CodecError('malformed cache value');
}

/** Serializes a cache value to a string. Throws TypeError for functions, symbols and cycles. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(toWire(value, new Set(), ''));
}

/** Parses a string made by `encodeValue`. Throws `CodecError` for anything else. */
export function decodeValue(text: string | Uint8Array): unknown {
  const s =
    typeof text === 'string'
      ? text
      : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8');
  let wire: unknown;
  try {
    wire = JSON.parse(s);
  } catch (err) {
    throw new CodecError(`malformed cache value: ${(err as Error).message}`);
  }
  try {
    return fromWire(wire);
  } catch (err) {
    if (err instanceof CodecError) throw err;
    // A bad BigInt or date text, nesting too deep for the stack: all one kind of failure for the caller.
    throw new CodecError(`malformed cache value: ${(err as Error)?.message ?? err}`);
  }
}

interface EnvelopeWire {
  v: unknown;
  f: number;
  s?: number;
  t?: string[];
  w?: number;
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

function envelopeFromWire(w: EnvelopeWire, value: unknown): CacheEnvelope {
  const tags = Array.isArray(w.t) && w.t.every((t) => typeof t === 'string') ? w.t : undefined;
  return new CacheEnvelope(
    value,
    w.f,
    false,
    typeof w.s === 'number' ? w.s : 0,
    tags,
    typeof w.w === 'number' ? w.w : 0,
  );
}
