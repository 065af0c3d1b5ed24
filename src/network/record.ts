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

/**
 * Who sent a record and the sender's clock when it did (a PUT's transport
 * metadata, not part of the record: the receiver uses it to measure the
 * sender's clock offset, and does not store it).
 */
export interface RecordTransport {
  readonly from: string;
  readonly sent: number;
}

export function encodeRecord(rec: StoredRecord, transport?: RecordTransport): Uint8Array {
  return encoder.encode(recordText(rec, transport));
}

/** The record's JSON text (the one-hop protocol carries it as a string). */
export function recordText(rec: StoredRecord, transport?: RecordTransport): string {
  const out: Record<string, unknown> = {
    expiresAt: rec.expiresAt,
    writtenAt: rec.writtenAt,
    writer: rec.writer,
  };
  if (rec.deleted === true) out.deleted = true;
  else out.value = rec.value ?? '';
  if (transport !== undefined) {
    out.from = transport.from;
    out.sent = transport.sent;
  }
  return JSON.stringify(out);
}

/** The record with its timestamps moved by `shift` ms (into another node's clock). */
export function rebaseRecord(rec: StoredRecord, shift: number): StoredRecord {
  if (shift === 0) return rec;
  return {
    ...rec,
    writtenAt: rec.writtenAt + shift,
    expiresAt: rec.expiresAt === 0 ? 0 : rec.expiresAt + shift,
  };
}

/**
 * Bounds a record received from elsewhere by the local clock: undefined when
 * it claims to be written more than `toleranceMs` in the future (its clock is
 * unknown: it cannot be ordered against this node's invalidations). So a kept
 * record expires at most its own TTL (`expiresAt - writtenAt`) plus
 * `toleranceMs` from `now`: a writer's clock cannot stretch its life here.
 */
export function boundRecord(
  rec: StoredRecord,
  toleranceMs: number,
  now = Date.now(),
): StoredRecord | undefined {
  return rec.writtenAt > now + toleranceMs ? undefined : rec;
}

export function decodeRecord(bytes: Uint8Array): StoredRecord {
  return parseRecordText(decoder.decode(bytes)).record;
}

/** A record and its transport metadata (when the sender added it) from its JSON text; throws RecordError. */
export function parseRecordText(text: string): { record: StoredRecord; transport?: RecordTransport } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RecordError('record is not JSON');
  }
  if (raw === null || typeof raw !== 'object') throw new RecordError('record is not an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.expiresAt !== 'number' || typeof r.writtenAt !== 'number' || typeof r.writer !== 'string') {
    throw new RecordError('record lacks expiresAt, writtenAt or writer');
  }
  let record: StoredRecord;
  if (r.deleted === true)
    record = { expiresAt: r.expiresAt, writtenAt: r.writtenAt, writer: r.writer, deleted: true };
  else if (typeof r.value !== 'string') throw new RecordError('record lacks a value');
  else record = { value: r.value, expiresAt: r.expiresAt, writtenAt: r.writtenAt, writer: r.writer };
  if (typeof r.from === 'string' && typeof r.sent === 'number' && Number.isFinite(r.sent))
    return { record, transport: { from: r.from, sent: r.sent } };
  return { record };
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

/**
 * Observes a remote timestamp (already re-based into this node's clock) so that
 * later local writes order after it (a hybrid logical clock step), following it
 * at most `maxAheadMs` ahead of the wall clock.
 */
export function observeClock(remoteWrittenAt: number, maxAheadMs = 60_000): void {
  if (remoteWrittenAt > lastWrite && remoteWrittenAt <= Date.now() + maxAheadMs) lastWrite = remoteWrittenAt;
}
