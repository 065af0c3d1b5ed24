/** Clock offsets and the bounds on received timestamps (docs/dht.md, "Clocks"). */

import { Record as DhtRecord } from '@libp2p/kad-dht';
import { describe, expect, it } from 'vitest';
import { ClockWatch } from '../../src/network/clock.js';
import { LwwDatastore, recordDatastoreKey } from '../../src/network/lww-datastore.js';
import { boundRecord, encodeRecord, rebaseRecord, toDhtKey } from '../../src/network/record.js';

describe('ClockWatch', () => {
  it('re-bases only beyond the tolerance, keeps the highest recent sample, warns once per window', () => {
    const warned: unknown[] = [];
    const logger = { warn: (o: unknown) => warned.push(o) } as never;
    const clock = new ClockWatch(logger);
    expect(clock.observe('p1', 1_500, 1_000)).toBe(0); // 500 ms: within 1 s
    expect(clock.observe('p2', 11_000, 1_000)).toBe(-10_000);
    expect(clock.observe('p2', 10_900, 1_100)).toBe(-10_000); // a slower message does not lower it
    expect(clock.shiftOf('p2')).toBe(-10_000);
    expect(clock.shiftOf('unknown')).toBeUndefined();
    expect(clock.observe('p3', 0, 600_000)).toBe(600_000); // behind
    expect(warned).toHaveLength(2);
    expect(warned[0]).toMatchObject({ peer: 'p2', offsetMs: 10_000, toleranceMs: 1_000 });
    clock.observe('p2', 71_200, 61_200); // a minute later: warned again
    expect(warned).toHaveLength(3);
  });
});

describe('bounds on received records', () => {
  const rec = { value: 'v', writtenAt: 100_000, expiresAt: 160_000, writer: 'w' };
  it('rebaseRecord shifts writtenAt and expiresAt (0 stays 0)', () => {
    expect(rebaseRecord(rec, -5_000)).toMatchObject({ writtenAt: 95_000, expiresAt: 155_000 });
    expect(rebaseRecord({ ...rec, expiresAt: 0 }, 7).expiresAt).toBe(0);
  });
  it('boundRecord refuses a record from beyond the tolerance in the future, so expiry <= now + TTL + tolerance', () => {
    expect(boundRecord(rec, 1_000, 98_000)).toBeUndefined();
    const kept = boundRecord(rec, 1_000, 99_000);
    expect(kept).toEqual(rec);
    expect(kept?.expiresAt).toBeLessThanOrEqual(99_000 + 60_000 + 1_000);
  });
  it('the datastore re-bases a put from a skewed sender and stores it without the transport fields', () => {
    const clock = new ClockWatch();
    const ds = new LwwDatastore(clock);
    const now = Date.now();
    const dhtKey = toDhtKey('cache:k');
    const ahead = { value: 'v', writtenAt: now + 600_000, expiresAt: now + 660_000, writer: 'skewed' };
    const bytes = encodeRecord(ahead, { from: 'skewed', sent: now + 600_000 });
    ds.put(recordDatastoreKey(dhtKey), new DhtRecord(dhtKey, bytes, new Date()).serialize());
    const stored = ds.readLocal(recordDatastoreKey(dhtKey))?.record;
    expect(stored?.writtenAt).toBeGreaterThan(now - 100);
    expect(stored?.writtenAt).toBeLessThan(now + 1_000);
    expect((stored?.expiresAt ?? 0) - (stored?.writtenAt ?? 0)).toBe(60_000);
    // Without transport (a read repair of the skewed copy): refused.
    const other = toDhtKey('cache:k2');
    ds.put(recordDatastoreKey(other), new DhtRecord(other, encodeRecord(ahead), new Date()).serialize());
    expect(ds.readLocal(recordDatastoreKey(other))).toBeUndefined();
    expect(ds.refusedFuture).toBe(1);
  });
});
