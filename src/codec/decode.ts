/**
 * The decoder: parses the JSON text and converts the wire tree in place.
 * Input is untrusted (a shared Redis, a DHT peer): every failure is a
 * `CodecError`, own `__proto__` keys stay own keys, sizes are bounded.
 */
import { CacheEnvelope } from './envelope.js';
import {
  CodecError,
  type EnvelopeWire,
  MAX_BIGINT_DIGITS,
  MAX_SPARSE_LENGTH,
  TAG,
  TYPED_ARRAYS,
  type TypedArrayName,
} from './wire.js';

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
