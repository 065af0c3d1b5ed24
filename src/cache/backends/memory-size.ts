/** The byte estimate the memory backend bounds `maxBytes` with. */

/** Rough bytes held by a value: strings count 2 bytes a character, plus fixed overheads. */
export function estimateSize(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2;
    case 'number':
    case 'boolean':
    case 'undefined':
      return 8;
    case 'bigint':
      return 16 + Math.ceil(value.toString(16).length / 2);
    case 'object':
      break;
    default:
      return 16;
  }
  if (value === null) return 8;
  if (depth > 16) return 64;
  if (ArrayBuffer.isView(value)) return 64 + value.byteLength;
  if (Array.isArray(value)) {
    let n = 16 + value.length * 8;
    for (const v of value) n += estimateSize(v, depth + 1);
    return n;
  }
  if (value instanceof Map || value instanceof Set) {
    let n = 64;
    for (const v of value as Iterable<unknown>) n += 16 + estimateSize(v, depth + 1);
    return n;
  }
  let n = 32;
  for (const k in value as object)
    n += 16 + k.length * 2 + estimateSize((value as Record<string, unknown>)[k], depth + 1);
  return n;
}
