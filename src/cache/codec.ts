/**
 * The value codec for backends that store bytes outside the process (Redis, DHT).
 *
 * Wire format: JSON, where values JSON cannot express are tagged objects
 * `{"$mc": <tag>, "v": <payload>}`. Tags: `date`, `bigint`, `bytes` (Buffer /
 * Uint8Array, base64), `map`, `set`, `undef`, `num` (NaN, ±Infinity, -0) and
 * `obj` (a plain object that itself has a `$mc` property, escaped so it cannot be
 * mistaken for a tag), `env` (the caching layer's `CacheEnvelope`). Everything else is plain JSON, so values stay readable
 * in `redis-cli`.
 *
 * Why not JSON + reviver, v8.serialize or msgpack: JSON loses Dates/BigInt/Maps;
 * v8.serialize is not stable across Node versions (a shared Redis outlives an
 * upgrade); a hand-written 60-line tagger keeps zero dependencies and readable values.
 */
import { CacheEnvelope } from './snapshot.js';

const TAG = '$mc';

/** Raised by `decodeValue` for bytes that are not a value of this codec. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

type Wire = null | boolean | number | string | Wire[] | { [k: string]: Wire };

function tagged(tag: string, v: Wire): Wire {
  return { [TAG]: tag, v };
}

function toWire(value: unknown, seen: Set<object>): Wire {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return tagged('num', String(Object.is(value, -0) ? '-0' : value));
    case 'bigint':
      return tagged('bigint', value.toString());
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
    if (Array.isArray(obj)) return obj.map((item) => toWire(item, seen));
    if (obj instanceof Date) return tagged('date', Number.isNaN(obj.getTime()) ? null : obj.toISOString());
    if (obj instanceof Uint8Array)
      return tagged('bytes', Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64'));
    if (obj instanceof Map)
      return tagged(
        'map',
        [...obj].map(([k, v]) => [toWire(k, seen), toWire(v, seen)]),
      );
    if (obj instanceof Set)
      return tagged(
        'set',
        [...obj].map((v) => toWire(v, seen)),
      );
    if (obj instanceof CacheEnvelope) return tagged('env', { v: toWire(obj.value, seen), f: obj.freshUntil });
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toWire(toJSON.call(obj), seen);
    const out: { [k: string]: Wire } = {};
    for (const key of Object.keys(obj)) {
      const v = (obj as Record<string, unknown>)[key];
      if (typeof v === 'function' || typeof v === 'symbol') continue;
      out[key] = toWire(v, seen);
    }
    return TAG in out ? tagged('obj', out) : out;
  } finally {
    seen.delete(obj);
  }
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
      return BigInt(String(v));
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
      return new CacheEnvelope(fromWire((v as { v: unknown }).v), (v as { f: number }).f, false);
    }
    case 'obj':
      if (v === null || typeof v !== 'object' || Array.isArray(v)) break;
      return convertProperties(v as Record<string, unknown>);
  }
  return bad();
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
  return JSON.stringify(toWire(value, new Set()));
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
  return fromWire(wire);
}
