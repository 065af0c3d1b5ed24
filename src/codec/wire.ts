/** The codec's wire vocabulary, shared by the encoder (index.ts) and the decoder (decode.ts). */

export const TAG = '$mc';

/** Raised by `decodeValue` for bytes that are not a value of this codec. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

export type Wire = null | boolean | number | string | Wire[] | { [k: string]: Wire };

export function tagged(tag: string, v: Wire): Wire {
  return { [TAG]: tag, v };
}

/** Longest sparse array (one with holes) the codec writes or reads: bounds what a decoded length can make callers loop over. */
export const MAX_SPARSE_LENGTH = 2 ** 24;

/** Longest BigInt text (decimal digits) written or read: parsing is superlinear (10M digits: seconds). */
export const MAX_BIGINT_DIGITS = 100_000;

/** Typed arrays by name (the `ta` tag); Buffer and other Uint8Arrays keep their own tags. */
export const TYPED_ARRAYS = {
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
export type TypedArrayName = keyof typeof TYPED_ARRAYS;

/** Sets `out[key]` as an own data property, also for `__proto__` (plain assignment would run its setter). */
export function put(out: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
  else out[key] = v;
}

export interface EnvelopeWire {
  v: unknown;
  f: number;
  s?: number;
  t?: string[];
  w?: number;
}
