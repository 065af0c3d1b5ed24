/**
 * The record meshcache stores in the DHT: one last-write-wins register per key.
 *
 * On the wire it is JSON: `{ value?, expiresAt, writtenAt, writer, deleted? }`.
 * `value` is opaque text (the cache codec's output), `expiresAt` a wall-clock
 * time in ms (0 = never), `writtenAt` the writer's clock in ms (fractions used
 * to keep one writer's writes strictly ordered), `writer` its peer id, and
 * `deleted` marks a tombstone. Records are ordered by `compareRecords`, the
 * same total order everywhere: the kad-dht selector, the datastore that refuses
 * older writes, and the readers.
 */

/** Records of meshcache live under this first key segment (`/mc/...`): kad-dht picks validator and selector by it. */
export const RECORD_NAMESPACE = 'mc';

export interface StoredRecord {
  readonly value?: string;
  readonly expiresAt: number;
  readonly writtenAt: number;
  readonly writer: string;
  readonly deleted?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Thrown for bytes that are not a meshcache record. */
export class RecordError extends Error {
  override readonly name = 'RecordError';
}

export function encodeRecord(rec: StoredRecord): Uint8Array {
  const out: Record<string, unknown> = {
    expiresAt: rec.expiresAt,
    writtenAt: rec.writtenAt,
    writer: rec.writer,
  };
  if (rec.deleted === true) out.deleted = true;
  else out.value = rec.value ?? '';
  return encoder.encode(JSON.stringify(out));
}

export function decodeRecord(bytes: Uint8Array): StoredRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new RecordError('record is not JSON');
  }
  if (raw === null || typeof raw !== 'object') throw new RecordError('record is not an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.expiresAt !== 'number' || typeof r.writtenAt !== 'number' || typeof r.writer !== 'string') {
    throw new RecordError('record lacks expiresAt, writtenAt or writer');
  }
  if (r.deleted === true)
    return { expiresAt: r.expiresAt, writtenAt: r.writtenAt, writer: r.writer, deleted: true };
  if (typeof r.value !== 'string') throw new RecordError('record lacks a value');
  return { value: r.value, expiresAt: r.expiresAt, writtenAt: r.writtenAt, writer: r.writer };
}

function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Last-write-wins order: the later `writtenAt` wins; ties go to the greater
 * writer id, then to a tombstone, then to the greater value text, then to the
 * later expiry. Positive when `a` wins over `b`, 0 only for identical records.
 */
export function compareRecords(a: StoredRecord, b: StoredRecord): number {
  return (
    cmp(a.writtenAt, b.writtenAt) ||
    cmp(a.writer, b.writer) ||
    cmp(a.deleted === true ? 1 : 0, b.deleted === true ? 1 : 0) ||
    cmp(a.value ?? '', b.value ?? '') ||
    cmp(a.expiresAt, b.expiresAt)
  );
}

/** True when the record is past its expiry at `now`. */
export function isExpired(rec: StoredRecord, now = Date.now()): boolean {
  return rec.expiresAt !== 0 && rec.expiresAt <= now;
}

/** The DHT key bytes of a meshcache key (`/mc/<key>`). */
export function toDhtKey(key: string): Uint8Array {
  return encoder.encode(`/${RECORD_NAMESPACE}/${key}`);
}

/** The meshcache key of DHT key bytes, or undefined when they are not a meshcache key. */
export function fromDhtKey(bytes: Uint8Array): string | undefined {
  const s = decoder.decode(bytes);
  const head = `/${RECORD_NAMESPACE}/`;
  return s.startsWith(head) ? s.slice(head.length) : undefined;
}

let lastWrite = 0;

/** A wall-clock timestamp in ms that strictly increases within this process (for `writtenAt`). */
export function writeClock(): number {
  const now = Date.now();
  lastWrite = now > lastWrite ? now : lastWrite + 0.001;
  return lastWrite;
}

/** Observes a remote timestamp so that later local writes order after it (a hybrid logical clock step). */
export function observeClock(remoteWrittenAt: number): void {
  if (remoteWrittenAt > lastWrite && remoteWrittenAt < Date.now() + 60_000) lastWrite = remoteWrittenAt;
}
