import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DhtBackend } from '../../../src/cache/backends/dht/index.js';
import { MeshError } from '../../../src/errors.js';
import { MeshNetwork, sortByDistance, writeClock } from '../../../src/network/index.js';
import { startCluster, stopAll, testLogger, waitFor, waitForPeers } from '../../helpers/p2p.js';
import { type DhtCluster, holders, openBackend, startDhtCluster } from '../../helpers/p2p-dht.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const K = (rest: string) => `cache:test/user/${rest}`;

describe('DHT backend on 5 loopback nodes (replication 3)', () => {
  let c: DhtCluster;
  let b: DhtBackend[];
  beforeAll(async () => {
    c = await startDhtCluster(5, { replication: 3, upkeepDelayMs: 100 }, { id: 'test' });
    b = c.backends;
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('a value set on A is a hit on C, every time from the DHT (no copy of its own: the near tier is in front)', async () => {
    await b[0]?.set(K('get_user:1'), { id: 1, name: 'Ada', born: new Date(0) }, 60);
    const before = b[2]?.stats();
    expect(await b[2]?.get(K('get_user:1'))).toEqual({ id: 1, name: 'Ada', born: new Date(0) });
    const again = b[2]?.get(K('get_user:1'));
    expect(again).toBeInstanceOf(Promise);
    expect(await again).toEqual({ id: 1, name: 'Ada', born: new Date(0) });
    expect(b[2]?.stats().dhtHits).toBe((before?.dhtHits ?? 0) + 2);
    expect(await b[3]?.get(K('get_user:404'))).toBeUndefined();
  });

  it('stores each entry on exactly `replication` nodes, the closest to its key', async () => {
    for (let i = 0; i < 10; i++) await b[i % 5]?.set(K(`spread:${i}`), i, 60);
    for (let i = 0; i < 10; i++) expect(holders(c, K(`spread:${i}`))).toHaveLength(3);
  });

  it('expires entries after their TTL, on every node', async () => {
    // 2 s leaves room for a slow put under load; the entry is read before it expires, then after.
    const written = Date.now();
    await b[1]?.set(K('short'), 'soon gone', 2);
    expect(await b[4]?.get(K('short'))).toBe('soon gone');
    await sleep(Math.max(0, written + 2100 - Date.now()));
    for (const backend of b) expect(await backend.get(K('short'))).toBeUndefined();
  });

  it('resolves divergent replicas last-write-wins, at read and at store time', async () => {
    const key = K('lww');
    await b[0]?.set(key, 'first', 60);
    const hs = holders(c, key);
    expect(hs).toHaveLength(3);
    // Make the replicas diverge: one holder gets a newer write directly, another keeps the old one.
    const newer = {
      value: JSON.stringify('newer'),
      expiresAt: Date.now() + 60_000,
      writtenAt: writeClock(),
      writer: 'zz-writer',
    };
    expect(c.nets[hs[0] as number]?.dht.storeLocal(key, newer)).toBe(true);
    // A reader that is not holder 0 still gets the newest value (selector), and read repair fixes the others.
    const reader = [1, 2, 3, 4].find((i) => !hs.includes(i)) as number;
    expect(await b[reader as number]?.get(key)).toBe('newer');
    await waitFor(
      () => hs.every((h) => c.nets[h]?.dht.readLocal(key)?.value === JSON.stringify('newer')),
      5000,
      'read repair',
    );
    // An older write arriving late is refused by every holder.
    const older = {
      value: JSON.stringify('stale'),
      expiresAt: Date.now() + 60_000,
      writtenAt: newer.writtenAt - 1000,
      writer: 'aa',
    };
    for (const h of hs) expect(c.nets[h]?.dht.storeLocal(key, older)).toBe(false);
    const net0 = c.nets[0] as MeshNetwork;
    const sent = await net0.dht.storeAt(
      c.nets[hs[1] as number]?.peerId as string,
      key,
      older,
      AbortSignal.timeout(2000),
    );
    expect(sent).toBe(true); // acknowledged, yet not stored
    expect(c.nets[hs[1] as number]?.dht.readLocal(key)?.value).toBe(JSON.stringify('newer'));
    // Same writtenAt: the tie-break is deterministic (writer id), whatever the arrival order.
    const t = writeClock();
    const x = { value: '"x"', expiresAt: 0, writtenAt: t, writer: 'peer-a' };
    const y = { value: '"y"', expiresAt: 0, writtenAt: t, writer: 'peer-b' };
    const n1 = c.nets[hs[0] as number] as MeshNetwork;
    const n2 = c.nets[hs[1] as number] as MeshNetwork;
    n1.dht.storeLocal(key, x);
    n1.dht.storeLocal(key, y);
    n2.dht.storeLocal(key, y);
    n2.dht.storeLocal(key, x);
    expect(n1.dht.readLocal(key)?.value).toBe('"y"');
    expect(n2.dht.readLocal(key)?.value).toBe('"y"');
  });

  it('a delete is seen by every node and wins over older writes', async () => {
    const key = K('get_user:2');
    await b[0]?.set(key, { id: 2 }, 60);
    for (const backend of b) expect(await backend.get(key)).toEqual({ id: 2 });
    expect(await b[3]?.delete(key)).toBe(true);
    await waitFor(
      async () => (await Promise.all(b.map((x) => x.get(key)))).every((v) => v === undefined),
      5000,
      'delete everywhere',
    );
    expect(holders(c, key).every((h) => c.nets[h]?.dht.readLocal(key)?.deleted === true)).toBe(true);
    expect(await b[1]?.delete(key)).toBe(false);
    // A write older than the delete (a slow put) stays dead.
    const late = {
      value: '{"id":2}',
      expiresAt: Date.now() + 60_000,
      writtenAt: writeClock() - 5_000,
      writer: 'slow',
    };
    for (const net of c.nets) net.dht.storeLocal(key, late);
    for (const backend of b) expect(await backend.get(key)).toBeUndefined();
    // A newer set brings the key back.
    await b[4]?.set(key, { id: 2, v: 2 }, 60);
    expect(await b[2]?.get(key)).toEqual({ id: 2, v: 2 });
  });

  it('clear(prefix) reaches every node and leaves other prefixes alone', async () => {
    await b[0]?.set('cache:test/user/a', 1, 60);
    await b[1]?.set('cache:test/user/b', 2, 60);
    await b[2]?.set('cache:test/order/a', 3, 60);
    for (const backend of b) {
      expect(await backend.get('cache:test/user/a')).toBe(1);
      expect(await backend.get('cache:test/order/a')).toBe(3);
    }
    b[4]?.clear('cache:test/user/');
    await waitFor(
      async () =>
        (await Promise.all(b.flatMap((x) => [x.get('cache:test/user/a'), x.get('cache:test/user/b')]))).every(
          (v) => v === undefined,
        ),
      5000,
      'clear everywhere',
    );
    for (const backend of b) expect(await backend.get('cache:test/order/a')).toBe(3);
    expect(holders(c, 'cache:test/user/a')).toEqual([]);
  });

  it('revoke(prefix, glob) reaches every node', async () => {
    await b[0]?.set(K('get_user:10'), 10, 60);
    await b[0]?.set(K('get_user:11'), 11, 60);
    await b[0]?.set(K('get_user_profile:10'), 'p10', 60);
    for (const backend of b) expect(await backend.get(K('get_user:10'))).toBe(10);
    const seen: string[] = [];
    const off = b[0]?.onInvalidation((i) => seen.push(`${i.op} ${i.prefix} ${i.pattern} ${i.remote}`));
    b[2]?.revoke('cache:test/user/', 'get_user:1?');
    await waitFor(
      async () =>
        (await Promise.all(b.flatMap((x) => [x.get(K('get_user:10')), x.get(K('get_user:11'))]))).every(
          (v) => v === undefined,
        ),
      5000,
      'revoke everywhere',
    );
    for (const backend of b) expect(await backend.get(K('get_user_profile:10'))).toBe('p10');
    off?.();
    expect(seen).toEqual(['rule cache:test/user/ get_user:1? true']);
    expect(() => b[0]?.revoke('cache:test/user/', '')).toThrow(MeshError);
  });

  it('once a newer write on one node resolves, every node reads it', async () => {
    const key = K('coherent');
    await b[0]?.set(key, 'v1', 60);
    expect(await b[1]?.get(key)).toBe('v1');
    await b[2]?.set(key, 'v2', 60);
    for (const backend of b) expect(await backend.get(key)).toBe('v2');
  });

  it('refuses the removed cache.dht.nearCache option, naming its replacement', async () => {
    const { DhtBackend } = await import('../../../src/cache/backends/dht/index.js');
    expect(() => new DhtBackend({ nearCache: { enabled: true } } as never)).toThrow(/cache\.near/);
    const err = (() => {
      try {
        new DhtBackend({ nearCache: {} } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe('CONFIG_INVALID');
    expect((err as MeshError).details.field).toBe('cache.dht.nearCache');
  });
});

describe('DHT backend availability', () => {
  let c: DhtCluster | undefined;
  const others: MeshNetwork[] = [];
  const extra: DhtBackend[] = [];
  afterAll(async () => {
    await Promise.allSettled(extra.map((x) => x.close()));
    await c?.stop();
    await stopAll(others);
  });

  it('stop 2 of the 3 holders: the value is still found, and copies are restored', async () => {
    c = await startDhtCluster(
      5,
      { replication: 3, upkeepDelayMs: 100, sweepIntervalMs: 1000, opTimeoutMs: 5000 },
      { id: 'churn' },
    );
    const key = 'cache:churn/svc/k';
    await c.backends[0]?.set(key, 'survives', 300);
    const hs = holders(c, key);
    expect(hs).toHaveLength(3);
    const stopped = hs.filter((h) => h !== 0).slice(0, 2);
    if (stopped.length < 2) stopped.push(hs.find((h) => !stopped.includes(h)) as number);
    await Promise.all(stopped.map((i) => c?.nets[i]?.stop()));
    const reader = [0, 1, 2, 3, 4].find((i) => !stopped.includes(i) && i !== 0) as number;
    // A reader finds the last copy through the DHT.
    expect(await c.backends[reader]?.get(key)).toBe('survives');
    // Upkeep brings the copies back to 3 on the surviving nodes.
    await waitFor(() => holders(c as DhtCluster, key).length === 3, 10_000, 're-replication');
  });

  it('when peers join, entries move to the peers now closest to them', async () => {
    const cl = c as DhtCluster;
    const live = [0, 1, 2, 3, 4].filter((i) => cl.nets[i]?.started);
    const keys = Array.from({ length: 20 }, (_, i) => `cache:churn/svc/join-${i}`);
    for (const k of keys) await cl.backends[live[0] as number]?.set(k, k, 300);
    const boot = cl.nets[live[0] as number]?.addresses();
    const newcomers = [
      new MeshNetwork({ id: 'churn', bootstrap: boot }, testLogger()),
      new MeshNetwork({ id: 'churn', bootstrap: boot }, testLogger()),
    ];
    others.push(...newcomers);
    await Promise.all(newcomers.map((n) => n.start()));
    extra.push(
      ...(await Promise.all(
        newcomers.map((n) =>
          openBackend(n, { replication: 3, upkeepDelayMs: 100, sweepIntervalMs: 1000, opTimeoutMs: 5000 }),
        ),
      )),
    );
    const all = [...live.map((i) => cl.nets[i] as MeshNetwork), ...newcomers];
    try {
      await Promise.all(all.map((n) => waitForPeers(n, all.length - 1, 30_000)));
      const ids = all.map((n) => n.peerId);
      const holdersOf = (k: string) =>
        all
          .filter((n) => n.dht.readLocal(k) !== undefined)
          .map((n) => n.peerId)
          .sort();
      await waitFor(
        () =>
          keys.every(
            (k) => JSON.stringify(holdersOf(k)) === JSON.stringify(sortByDistance(k, ids).slice(0, 3).sort()),
          ),
        15_000,
        'hand-off',
      );
      expect(
        keys.filter((k) => holdersOf(k).some((id) => newcomers.some((n) => n.peerId === id))).length,
      ).toBeGreaterThan(0);
    } finally {
      for (const n of newcomers) await n.stop();
    }
  });

  it('a holder that was away during a delete does not resurrect the entry', async () => {
    const cl = c as DhtCluster;
    const live = [0, 1, 2, 3, 4].filter((i) => cl.nets[i]?.started);
    const key = 'cache:churn/svc/deleted-while-away';
    await cl.backends[live[0] as number]?.set(key, 'old', 300);
    const hs = holders(cl, key);
    const away = hs.find((h) => h !== live[0]) as number;
    expect(await cl.backends[away]?.get(key)).toBe('old');
    const net = cl.nets[away] as MeshNetwork;
    await net.stop(); // keeps its datastore and its backend: it comes back with its old copy
    const deleter = live.find((i) => i !== away && i !== live[0]) as number;
    expect(await cl.backends[deleter]?.delete(key)).toBe(true);
    await net.start();
    await waitForPeers(net, 1, 10_000);
    await waitFor(() => (cl.backends[away]?.stats().rejoins ?? 0) > 0, 10_000, 'rejoin');
    for (const i of live) expect(await cl.backends[i]?.get(key)).toBeUndefined();
    expect(net.dht.readLocal(key)?.deleted ?? true).toBe(true);
  });

  it('a lone node caches locally; a stopped network is a miss, never an error', async () => {
    const [alone] = await startCluster(1, { id: 'alone' });
    others.push(alone as MeshNetwork);
    const backend = await openBackend(alone as MeshNetwork);
    extra.push(backend);
    await backend.set('cache:alone/s/a', 'local', 60);
    await backend.set('cache:alone/s/b', 'local-b', 60);
    const fresh = await openBackend(alone as MeshNetwork);
    extra.push(fresh);
    expect(await fresh.get('cache:alone/s/a')).toBe('local');
    expect(await fresh.delete('cache:alone/s/a')).toBe(true);
    expect(await fresh.get('cache:alone/s/a')).toBeUndefined();
    expect(fresh.clear('cache:alone/s/')).toBe(1);
    expect(await fresh.get('cache:alone/s/b')).toBeUndefined();
    await alone?.stop();
    expect(await fresh.get('cache:alone/s/x')).toBeUndefined();
    await expect(Promise.resolve(fresh.set('cache:alone/s/x', 1, 1))).resolves.toBeUndefined();
  });

  it('the sweep turns expired values into tombstones, then removes them; write-behind sets flush', async () => {
    const [alone] = await startCluster(1, { id: 'sweep' });
    others.push(alone as MeshNetwork);
    const backend = await openBackend(alone as MeshNetwork, { tombstoneTtlSeconds: 0.3, writeBehind: true });
    extra.push(backend);
    await backend.set('cache:sweep/s/a', 'a', 0.2);
    await backend.set('cache:sweep/s/b', 'b', 60);
    await backend.flush();
    const dht = (alone as MeshNetwork).dht;
    expect(dht.readLocal('cache:sweep/s/a')?.value).toBe('"a"');
    await sleep(250);
    backend.sweep();
    expect(dht.readLocal('cache:sweep/s/a')?.deleted).toBe(true);
    expect(dht.readLocal('cache:sweep/s/b')?.value).toBe('"b"');
    expect(await backend.get('cache:sweep/s/a')).toBeUndefined();
    backend.sweep(Date.now() + 1000);
    expect(dht.readLocal('cache:sweep/s/a')).toBeUndefined();
    expect(backend.stats().stored).toBe(1);
  });

  it('networks with different ids do not share entries', async () => {
    const a = new MeshNetwork({ id: 'iso-a' }, testLogger());
    await a.start();
    const bNet = new MeshNetwork({ id: 'iso-b', bootstrap: a.addresses() }, testLogger());
    const a2 = new MeshNetwork({ id: 'iso-a', bootstrap: a.addresses() }, testLogger());
    others.push(a, bNet, a2);
    await Promise.all([bNet.start(), a2.start()]);
    await waitForPeers(a2, 1);
    const ba = await openBackend(a);
    const bb = await openBackend(bNet);
    const ba2 = await openBackend(a2);
    extra.push(ba, bb, ba2);
    await ba.set('cache:shared/key', 'from-a', 60);
    expect(await ba2.get('cache:shared/key')).toBe('from-a');
    expect(await bb.get('cache:shared/key')).toBeUndefined();
    ba.clear();
    expect(bNet.peers()).toEqual([]);
  });

  it('refuses to open without a network', async () => {
    const backend = (await import('../../../src/cache/backends/dht/index.js')).DhtBackend;
    await expect(new backend().open({ networkId: 'x', logger: testLogger() })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    expect(() => new backend({ replication: 0 })).toThrow(/cache\.dht\.replication/);
  });
});

describe('DHT backend ttl rule', () => {
  let net: MeshNetwork | undefined;
  let backend: DhtBackend | undefined;
  afterAll(async () => {
    await backend?.close();
    await stopAll([net]);
  });

  it('refuses a negative or non-finite ttl with INVALID_PARAMS and stores nothing; 0 and fractions are fine', async () => {
    [net] = await startCluster(1, { id: 'ttl-rule' });
    backend = await openBackend(net as MeshNetwork);
    const key = 'cache:ttl-rule/s/a';
    for (const bad of [-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const err = await backend.set(key, 'v', bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(MeshError.is(err, 'INVALID_PARAMS'), String(bad)).toBe(true);
      expect((err as MeshError).details).toMatchObject({ key, ttl: bad });
    }
    expect(await backend.get(key)).toBeUndefined();
    expect(net?.dht.readLocal(key)).toBeUndefined();
    await backend.set(key, 'forever', 0);
    await backend.set('cache:ttl-rule/s/b', 'brief', 0.5);
    expect(await backend.get(key)).toBe('forever');
    expect(await backend.get('cache:ttl-rule/s/b')).toBe('brief');
  });
});
