/** The DHT backend's pure parts: record order, base32 keys, invalidation log, upkeep planning. */
import { describe, expect, it } from 'vitest';
import { parseRuleLog, RuleLog } from '../../../src/cache/backends/dht/rules.js';
import { planUpkeep } from '../../../src/cache/backends/dht/upkeep.js';
import { compareRecords, type StoredRecord, sortByDistance } from '../../../src/network/index.js';
import { base32 } from '../../../src/network/lww-datastore.js';
import { decodeRecord, encodeRecord, RecordError, toDhtKey } from '../../../src/network/record.js';

const rec = (over: Partial<StoredRecord>): StoredRecord => ({
  value: '"v"',
  expiresAt: 0,
  writtenAt: 100,
  writer: 'w',
  ...over,
});

describe('records', () => {
  it('orders writes last-write-wins with a deterministic tie-break', () => {
    expect(compareRecords(rec({ writtenAt: 2 }), rec({ writtenAt: 1 }))).toBeGreaterThan(0);
    expect(compareRecords(rec({ writer: 'b' }), rec({ writer: 'a' }))).toBeGreaterThan(0);
    expect(compareRecords(rec({ deleted: true, value: undefined }), rec({}))).toBeGreaterThan(0);
    expect(compareRecords(rec({ value: '"b"' }), rec({ value: '"a"' }))).toBeGreaterThan(0);
    expect(compareRecords(rec({}), rec({}))).toBe(0);
    const all = [rec({ writer: 'b' }), rec({ writtenAt: 99 }), rec({ deleted: true }), rec({ value: '"z"' })];
    const best = (xs: StoredRecord[]) => xs.reduce((a, b) => (compareRecords(a, b) >= 0 ? a : b));
    expect(best(all)).toBe(best([...all].reverse()));
  });

  it('round-trips through the wire format and refuses garbage', () => {
    const r = rec({ expiresAt: 5 });
    expect(decodeRecord(encodeRecord(r))).toEqual(r);
    expect(decodeRecord(encodeRecord(rec({ deleted: true })))).toEqual({
      expiresAt: 0,
      writtenAt: 100,
      writer: 'w',
      deleted: true,
    });
    expect(() => decodeRecord(new TextEncoder().encode('{"value":1}'))).toThrow(RecordError);
    expect(() => decodeRecord(new TextEncoder().encode('nope'))).toThrow(RecordError);
  });

  it('encodes datastore keys in base32 like kad-dht (RFC 4648, lower case, no padding)', () => {
    expect(base32(new TextEncoder().encode('foobar'))).toBe('mzxw6ytboi');
    expect(base32(new TextEncoder().encode('f'))).toBe('my');
    expect(base32(toDhtKey('k'))).toBe(base32(new TextEncoder().encode('/mc/k')));
  });
});

describe('RuleLog', () => {
  it('invalidates what was written before a delete or a matching rule', () => {
    const log = new RuleLog(60_000);
    log.addDelete('cache:n/user/get_user:1', 100);
    expect(log.invalidates('cache:n/user/get_user:1', 99)).toBe(true);
    expect(log.invalidates('cache:n/user/get_user:1', 101)).toBe(false);
    const m = log.addRule({ prefix: 'cache:n/user/', pattern: 'get_user:*', at: 200 });
    expect(m?.('cache:n/user/get_user:7')).toBe(true);
    expect(m?.('cache:n/user/get_profile:7')).toBe(false);
    expect(log.invalidates('cache:n/user/get_user:7', 150)).toBe(true);
    expect(log.invalidates('cache:n/order/get_user:7', 150)).toBe(false);
    expect(log.addRule({ prefix: 'cache:n/user/', pattern: 'get_user:*', at: 150 })).toBeUndefined(); // older duplicate
    log.addRule({ prefix: 'cache:n/order/', at: 300 });
    expect(log.invalidates('cache:n/order/x', 299)).toBe(true);
    const copy = new RuleLog(60_000);
    const snap = parseRuleLog(JSON.parse(JSON.stringify(log.snapshot())));
    for (const [k, at] of snap.deletes) copy.addDelete(k, at);
    for (const r of snap.rules) copy.addRule(r);
    expect(copy.invalidates('cache:n/user/get_user:7', 150)).toBe(true);
    expect(copy.invalidates('cache:n/user/get_user:1', 99)).toBe(true);
    log.prune(Date.now() + 61_000);
    expect(log.size).toBe(0);
    expect(
      parseRuleLog({
        deletes: [
          [1, 2],
          ['k', 3],
        ],
        rules: [
          { prefix: 'p', at: 'x' },
          { prefix: 'p', at: 1, pattern: '' },
        ],
      }),
    ).toEqual({
      deletes: [['k', 3]],
      rules: [],
    });
  });
});

describe('planUpkeep', () => {
  const entry = (key: string) => ({ key, dhtKey: toDhtKey(key), record: rec({}) });

  it('hands records to the new closest peers and lets go of the ones it is no longer close to', () => {
    const ids = [
      'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
      'QmcfgsJsMtx6qJb74akCw1M24X1zFwgGo11h1cuhwQjtJP',
      'QmSoLPppuBtQSGwKDZT2M73ULpjvfd3aZ6ha4oFGL1KrGM',
      'QmSoLV4Bbm51jM9C4gDYZQ9Cy3U6aXMJDAbzgu2fzaDs64',
      'QmSoLSafTMBsPKadTEgaXctDQVcqN88CNLHXMkTNwMKPnu',
    ];
    const self = ids[0] as string;
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const before = new Set(ids.slice(1, 3));
    const now = new Set(ids.slice(1, 5));
    const plan = planUpkeep(keys.map(entry), before, now, self, 2);
    for (const key of keys) {
      const holdersNow = sortByDistance(key, [...now, self]).slice(0, 2);
      const holdersBefore = sortByDistance(key, [...before, self]).slice(0, 2);
      const step = plan.find((p) => p.entry.key === key);
      if (!holdersNow.includes(self)) expect(step).toMatchObject({ targets: holdersNow, dropAfter: true });
      else {
        const fresh = holdersNow.filter((p) => p !== self && !holdersBefore.includes(p));
        expect(step?.targets ?? []).toEqual(fresh);
      }
    }
    expect(plan.some((p) => p.dropAfter)).toBe(true);
  });
});

describe('DHT options', () => {
  it('defaults to hedged one-hop reads and refuses an unknown read mode or a negative hedge, naming the field', async () => {
    const { parseDhtOptions } = await import('../../../src/cache/backends/dht/options.js');
    const { MeshError } = await import('../../../src/errors.js');
    expect(parseDhtOptions({}).oneHop).toMatchObject({ read: 'hedged', hedgeMs: 2 });
    expect(parseDhtOptions({ oneHop: { read: 'parallel' } }).oneHop.read).toBe('parallel');
    for (const bad of [{ read: 'fastest' }, { hedgeMs: -1 }]) {
      let err: unknown;
      try {
        parseDhtOptions({ oneHop: bad as never });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MeshError);
      expect((err as InstanceType<typeof MeshError>).code).toBe('CONFIG_INVALID');
      expect(String((err as InstanceType<typeof MeshError>).details.field)).toMatch(/^cache\.dht\.oneHop\./);
    }
  });
});
