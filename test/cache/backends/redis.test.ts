/**
 * RedisBackend against a real redis-server started on a free loopback port.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import { encodeValue } from '../../../src/codec/index.js';
import { MeshError } from '../../../src/errors.js';
import { waitFor } from '../../helpers/log.js';
import {
  captureLogger,
  deadPort,
  type RedisServer,
  redisAvailable,
  startRedisServer,
} from '../../helpers/redis-server.js';

const available = redisAvailable();

const eventually = (check: () => boolean | Promise<boolean>, ms = 10_000) => waitFor(check, ms, 20);

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats. */
async function commandStats(raw: Redis): Promise<Record<string, number>> {
  const info = await raw.info('commandstats');
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

function resources(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}

describe.skipIf(!available)('RedisBackend (single server)', () => {
  let server: RedisServer;
  let raw: Redis;
  let backend: RedisBackend;
  const log = captureLogger();

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis({ port: server.port, host: server.host, lazyConnect: true });
    raw.on('error', () => {}); // it sees the kill test too
    await raw.connect();
    backend = new RedisBackend({ url: server.url });
    await backend.open({ networkId: 'default', logger: log.logger });
  });

  afterAll(async () => {
    await backend?.close();
    raw?.disconnect();
    await server?.stop();
  });

  afterEach(async () => {
    if (server.running) await raw.flushall();
  });

  it('opens and reports the connection once', () => {
    expect(backend.state).toBe('up');
    expect(log.records.filter((r) => r.msg === 'Redis connected')).toHaveLength(1);
  });

  it('round-trips Dates, BigInt, Buffers, Maps, Sets and nested objects', async () => {
    const value = {
      at: new Date('2024-02-29T12:34:56.789Z'),
      big: 12345678901234567890n,
      bytes: Buffer.from([0, 1, 2, 250, 255]),
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { deep: [new Date(0), -0, Number.NaN] }],
      ]),
      set: new Set(['x', 'y']),
      nested: { list: [1, 'two', null, { three: 3n }], empty: {}, none: undefined },
      text: 'héllo ✓',
    };
    await backend.set('cache:default/user/get_user:1', value, 60);
    const got = (await backend.get('cache:default/user/get_user:1')) as typeof value;
    expect(got).toEqual(value);
    expect(got.at).toBeInstanceOf(Date);
    expect(typeof got.big).toBe('bigint');
    expect(Buffer.isBuffer(got.bytes)).toBe(true);
    expect(got.map).toBeInstanceOf(Map);
    expect(Object.is((got.map.get(2) as { deep: unknown[] }).deep[1], -0)).toBe(true);
    for (const scalar of ['s', 42, 0, true, false, null, [1, [2]]]) {
      await backend.set('cache:default/user/scalar', scalar, 0);
      expect(await backend.get('cache:default/user/scalar')).toEqual(scalar);
    }
    // The stored text is the codec's readable JSON.
    expect(await raw.get('cache:default/user/get_user:1')).toBe(encodeValue(value));
    expect(await backend.get('cache:default/user/absent')).toBeUndefined();
  });

  it('keeps the TTL on the server (PX, fractions, 0 = none) and expires entries', async () => {
    await backend.set('k:forever', 1, 0);
    await backend.set('k:frac', 1, 1.5);
    await backend.set('k:short', 'soon gone', 0.3);
    expect(await raw.pttl('k:forever')).toBe(-1);
    const frac = await raw.pttl('k:frac');
    expect(frac).toBeGreaterThan(1000);
    expect(frac).toBeLessThanOrEqual(1500);
    expect(await backend.get('k:short')).toBe('soon gone');
    await eventually(async () => (await backend.get('k:short')) === undefined);
    expect(await raw.exists('k:short')).toBe(0);
    expect(await backend.get('k:forever')).toBe(1);
    await expect(backend.set('k:bad', 1, -1)).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    await expect(backend.set('k:bad', () => 1, 10)).rejects.toThrow(TypeError);
    expect(await raw.exists('k:bad')).toBe(0);
  });

  it('refuses a negative or non-finite ttl like every backend: INVALID_PARAMS naming key and ttl', async () => {
    for (const bad of [-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const err = await backend.set('k:bad', 1, bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(MeshError.is(err, 'INVALID_PARAMS'), String(bad)).toBe(true);
      expect((err as MeshError).details).toMatchObject({ key: 'k:bad', ttl: bad });
      expect((err as MeshError).message).toContain('a finite number of seconds >= 0 (0 = no expiry)');
    }
    expect(await raw.exists('k:bad')).toBe(0);
    await backend.set('k:zero', 1, 0);
    await backend.set('k:frac', 1, 0.5);
    expect(await raw.pttl('k:zero')).toBe(-1);
    expect(await raw.pttl('k:frac')).toBeGreaterThan(0);
  });

  it('deletes one key with a single DEL', async () => {
    await backend.set('cache:default/user/get_user:1', 'a', 0);
    await backend.set('cache:default/user/get_user:2', 'b', 0);
    await raw.config('RESETSTAT');
    expect(await backend.delete('cache:default/user/get_user:1')).toBe(true);
    const stats = await commandStats(raw);
    expect(stats.del).toBe(1);
    expect(Object.keys(stats).sort()).toEqual(['config|resetstat', 'del']);
    expect(await backend.delete('cache:default/user/get_user:1')).toBe(false);
    expect(await backend.get('cache:default/user/get_user:1')).toBeUndefined();
    expect(await backend.get('cache:default/user/get_user:2')).toBe('b');
  });

  it('clears one service and network only, escaping glob characters of the prefix', async () => {
    const pipe = raw.pipeline();
    for (let i = 0; i < 300; i++) {
      pipe.set(`cache:default/user/get_user:${i}`, '1');
      pipe.set(`cache:default/order/get_order:${i}`, '1');
      pipe.set(`cache:other/user/get_user:${i}`, '1');
    }
    pipe.set('cache:default/we*rd[1]?\\/a', '1');
    pipe.set('cache:default/weXrd1x\\/a', '1');
    pipe.set('cache:default/werd[1]?\\/a', '1');
    await pipe.exec();
    expect(await backend.clear('cache:default/user/')).toBe(300);
    expect(await raw.exists('cache:default/user/get_user:5')).toBe(0);
    expect(await raw.exists('cache:default/order/get_order:5')).toBe(1);
    expect(await raw.exists('cache:other/user/get_user:5')).toBe(1);
    expect(await raw.dbsize()).toBe(603);
    expect(await backend.clear('cache:default/we*rd[1]?\\/')).toBe(1);
    expect(await raw.exists('cache:default/weXrd1x\\/a')).toBe(1);
    expect(await raw.exists('cache:default/werd[1]?\\/a')).toBe(1);
  });

  it('revokes 5k keys among 20k with SCAN batches and UNLINK, never KEYS', async () => {
    const pipe = raw.pipeline();
    for (let i = 0; i < 5000; i++) pipe.set(`cache:default/user/get_user:${i}`, '1');
    for (let i = 0; i < 10000; i++) pipe.set(`cache:default/user/get_profile:${i}`, '1');
    for (let i = 0; i < 5000; i++) pipe.set(`cache:default/admin/get_user:${i}`, '1');
    await pipe.exec();
    expect(await raw.dbsize()).toBe(20000);
    await raw.config('RESETSTAT');
    expect(await backend.revoke('cache:default/user/', 'get_user:*')).toBe(5000);
    const stats = await commandStats(raw);
    expect(stats.keys).toBeUndefined();
    expect(stats.scan).toBeGreaterThanOrEqual(20); // 20k keys / COUNT 1000
    expect(stats.unlink).toBeGreaterThanOrEqual(1);
    expect(stats.del).toBeUndefined();
    expect(await raw.dbsize()).toBe(15000);
    expect(await raw.exists('cache:default/admin/get_user:7')).toBe(1);
    expect(await raw.exists('cache:default/user/get_profile:7')).toBe(1);
    expect(await backend.revoke('cache:default/user/', 'get_profile:99*')).toBe(111);
    expect(await backend.revoke('cache:default/user/', 'nothing:*')).toBe(0);
  });

  it('matches ? as one character (also multi-byte) and everything else literally', async () => {
    const keys = ['get:1', 'get:é', 'get:12', 'get:', 'get:[1]', 'get:a*b', 'get:axb', 'get:\\x', 'gex:1'];
    for (const k of keys) await raw.set(`p/s/${k}`, '1');
    expect(await backend.revoke('p/s/', 'get:?')).toBe(2); // get:1, get:é
    expect(await raw.exists('p/s/get:12', 'p/s/get:')).toBe(2);
    expect(await backend.revoke('p/s/', 'get:[1]')).toBe(1);
    expect(await backend.revoke('p/s/', 'get:a*b')).toBe(2); // * is a wildcard: get:a*b and get:axb
    expect(await raw.exists('p/s/get:axb')).toBe(0);
    expect(await backend.revoke('p/s/', 'get:\\?')).toBe(1);
    expect(await backend.revoke('p/s/', 'g??:*')).toBe(3); // get:12, get:, gex:1
    expect(await raw.dbsize()).toBe(0);
  });

  it('treats a malformed stored value as a miss and logs it rate-limited', async () => {
    await raw.set('cache:default/user/bad1', 'not json {');
    await raw.set('cache:default/user/bad2', '{"$mc":"nope","v":1}');
    await backend.set('cache:default/user/good', { ok: true }, 0);
    const before = log.records.filter((r) => r.msg.startsWith('Malformed')).length;
    for (let i = 0; i < 5; i++) {
      expect(await backend.get('cache:default/user/bad1')).toBeUndefined();
      expect(await backend.get('cache:default/user/bad2')).toBeUndefined();
    }
    const batch = await Promise.all([
      backend.get('cache:default/user/bad1'),
      backend.get('cache:default/user/good'),
    ]);
    expect(batch).toEqual([undefined, { ok: true }]);
    const after = log.records.filter((r) => r.msg.startsWith('Malformed')).length;
    expect(after - before).toBeLessThanOrEqual(1);
    expect(after).toBeGreaterThanOrEqual(1);
  });

  it('folds concurrent gets of one tick into one MGET', async () => {
    for (let i = 0; i < 100; i++) await backend.set(`m:${i}`, i, 0);
    await raw.config('RESETSTAT');
    const got = await Promise.all(Array.from({ length: 100 }, (_, i) => backend.get(`m:${i}`)));
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const stats = await commandStats(raw);
    expect(stats.mget).toBe(1);
    expect(stats.get).toBeUndefined();
    // Same key twice in one tick: each caller gets its own copy.
    await backend.set('m:obj', { a: 1 }, 0);
    const [a, b] = (await Promise.all([backend.get('m:obj'), backend.get('m:obj')])) as object[];
    expect(a).toEqual({ a: 1 });
    expect(a).not.toBe(b);
  });

  it('sends a lone command as is, and one tick of mixed commands in one pipeline', async () => {
    await backend.set('mix:1', 1, 0);
    await raw.config('RESETSTAT');
    expect(await backend.get('mix:1')).toBe(1);
    expect(await commandStats(raw)).toMatchObject({ get: 1 });
    await raw.config('RESETSTAT');
    const results = await Promise.all([
      backend.get('mix:1'),
      backend.set('mix:2', 'two', 10),
      backend.get('mix:2'), // issue order is kept: this get sees the set before it
      backend.get('mix:0'),
      backend.delete('mix:1'),
      backend.set('mix:3', 'three', 0),
      backend.get('mix:3'),
    ]);
    expect(results).toEqual([1, undefined, 'two', undefined, true, undefined, 'three']);
    const stats = await commandStats(raw);
    expect(stats).toMatchObject({ get: 2, mget: 1, set: 2, del: 1 });
    expect(await Promise.all([backend.get('mix:1'), backend.get('mix:2'), backend.get('mix:3')])).toEqual([
      undefined,
      'two',
      'three',
    ]);
    expect(await raw.pttl('mix:2')).toBeGreaterThan(5000);
    expect(await raw.pttl('mix:3')).toBe(-1);
  });

  it('uses plain auto-pipelined GETs when batch is false', async () => {
    const plain = new RedisBackend({ host: server.host, port: server.port, batch: false });
    await plain.open();
    try {
      await plain.set('g:1', 'one', 0);
      await raw.config('RESETSTAT');
      expect(await Promise.all([plain.get('g:1'), plain.get('g:2')])).toEqual(['one', undefined]);
      const stats = await commandStats(raw);
      expect(stats.get).toBe(2);
      expect(stats.mget).toBeUndefined();
    } finally {
      await plain.close();
    }
  });

  it('lists keys by prefix, and keeps an extra keyPrefix invisible to the caller', async () => {
    const scoped = new RedisBackend({ url: server.url, keyPrefix: 'app1:', scanCount: 10 });
    await scoped.open();
    try {
      for (let i = 0; i < 25; i++) await scoped.set(`cache:default/user/k${i}`, i, 0);
      await backend.set('cache:default/user/k0', 'not scoped', 0);
      expect(await raw.exists('app1:cache:default/user/k3')).toBe(1);
      expect(await scoped.get('cache:default/user/k0')).toBe(0);
      const listed: string[] = [];
      for await (const k of scoped.keys('cache:default/user/')) listed.push(k);
      expect(listed.sort()).toEqual(Array.from({ length: 25 }, (_, i) => `cache:default/user/k${i}`).sort());
      expect(await scoped.revoke('cache:default/user/', 'k1?')).toBe(10);
      expect(await scoped.clear()).toBe(15);
      expect(await backend.get('cache:default/user/k0')).toBe('not scoped');
    } finally {
      await scoped.close();
    }
  });

  it('fails fast on a hung server (operation timeout), then recovers', async () => {
    await backend.set('slow:1', 'v', 0);
    server.pause();
    try {
      const t0 = performance.now();
      const err = await backend.get('slow:1').catch((e: unknown) => e);
      const elapsed = performance.now() - t0;
      expect(err).toBeInstanceOf(MeshError);
      expect((err as MeshError).code).toBe('BACKEND_ERROR');
      expect(elapsed).toBeGreaterThanOrEqual(150); // it waited for the 200 ms timeout ...
      expect(elapsed).toBeLessThan(5000); // ... and not for the server
    } finally {
      server.resume();
    }
    await eventually(async () => (await backend.get('slow:1').catch(() => 'err')) === 'v');
  });

  it('survives kill and restart of redis-server, logging each transition once', async () => {
    await backend.set('life:1', 'before', 0);
    const lostBefore = log.records.filter((r) => r.msg.startsWith('Redis connection lost')).length;
    await server.kill();
    const failures = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => backend.get(`life:${i}`)));
    expect(failures.every((f) => f.status === 'rejected')).toBe(true);
    await eventually(() => backend.state === 'down');
    const waits: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t0 = performance.now();
      await expect(backend.set('life:x', 1, 0)).rejects.toMatchObject({ code: 'BACKEND_ERROR' });
      waits.push(performance.now() - t0);
    }
    expect(waits.sort((a, b) => a - b)[10]).toBeLessThan(50); // median: no waiting for the dead server
    await server.start();
    await eventually(() => backend.state === 'up');
    expect(await backend.get('life:1')).toBeUndefined(); // no persistence: the data died with the process
    await backend.set('life:1', 'after', 0);
    expect(await backend.get('life:1')).toBe('after');
    const lost = log.records.filter((r) => r.msg.startsWith('Redis connection lost')).length - lostBefore;
    expect(lost).toBe(1);
    expect(log.records.filter((r) => r.msg === 'Redis connection restored').length).toBeGreaterThanOrEqual(1);
    await raw.ping(); // the raw client reconnected too (used by afterEach)
  });
});

describe.skipIf(!available)('RedisBackend lifecycle', () => {
  it('validates options and does not connect in the constructor', () => {
    expect(() => new RedisBackend({ url: 'http://x' })).toThrow(MeshError);
    expect(() => new RedisBackend({ url: 'redis://a:1', cluster: ['b:2'] })).toThrow(/cluster/);
    expect(() => new RedisBackend({ cluster: ['nohostport'] })).toThrow(MeshError);
    expect(() => new RedisBackend({ port: 70000 })).toThrow(MeshError);
    expect(() => new RedisBackend({ operationTimeoutMs: 5, bogus: 1 } as never)).toThrow(/bogus/);
    const b = new RedisBackend({ cluster: ['127.0.0.1:7000', { host: '::1', port: 7001 }, '[::1]:7002'] });
    expect(b.options.cluster).toEqual([
      { host: '127.0.0.1', port: 7000 },
      { host: '::1', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(b.options).toMatchObject({
      keyPrefix: '',
      connectTimeoutMs: 1000,
      operationTimeoutMs: 200,
      scanCount: 1000,
    });
    expect(b.state).toBe('idle');
    expect(b.client).toBeUndefined();
    return expect(b.get('x')).rejects.toMatchObject({ code: 'NOT_STARTED' });
  });

  it('opens without throwing when Redis is down, fails fast, then caches once it is up', async () => {
    const port = await deadPort();
    const log = captureLogger();
    const backend = new RedisBackend({ url: `redis://127.0.0.1:${port}`, maxReconnectDelayMs: 200 });
    const t0 = performance.now();
    await backend.open({ networkId: 'default', logger: log.logger });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(backend.state).toBe('down');
    let server: RedisServer | undefined;
    try {
      const waits: number[] = [];
      for (let i = 0; i < 11; i++) {
        const t1 = performance.now();
        await expect(backend.get('k')).rejects.toMatchObject({ code: 'BACKEND_ERROR' });
        waits.push(performance.now() - t1);
      }
      // Well under the 200 ms op timeout (the median, so one scheduler hiccup cannot fail it).
      expect(waits.sort((a, b) => a - b)[5]).toBeLessThan(50);
      const unavailable = log.records.filter((r) => r.msg.startsWith('Redis unavailable'));
      expect(unavailable).toHaveLength(1);
      expect(unavailable[0].level).toBe(40);
      server = await startRedisServer({ port });
      await eventually(() => backend.state === 'up');
      await backend.set('k', 'v', 10);
      expect(await backend.get('k')).toBe('v');
      expect(log.records.filter((r) => r.msg === 'Redis connection restored')).toHaveLength(1);
      expect(log.records.filter((r) => r.msg.startsWith('Redis unavailable'))).toHaveLength(1);
    } finally {
      await backend.close();
      await server?.stop();
    }
    await expect(backend.get('k')).rejects.toMatchObject({ code: 'STOPPED' });
  });

  it('selects the db of the URL, authenticates an ACL user, and can be opened again after close', async () => {
    const server = await startRedisServer({ args: ['--user', 'cacher', 'on', '>s3cret', '~*', '+@all'] });
    try {
      const backend = new RedisBackend({ url: `redis://cacher:s3cret@127.0.0.1:${server.port}/2` });
      await backend.open();
      expect(backend.state).toBe('up');
      await backend.set('in-db-2', 'yes', 0);
      expect(
        (await server.cli('--user', 'cacher', '--pass', 's3cret', '-n', '2', 'EXISTS', 'in-db-2')).trim(),
      ).toBe('1');
      expect(
        (await server.cli('--user', 'cacher', '--pass', 's3cret', '-n', '0', 'EXISTS', 'in-db-2')).trim(),
      ).toBe('0');
      await backend.close();
      await expect(backend.get('in-db-2')).rejects.toMatchObject({ code: 'STOPPED' });
      await backend.open();
      expect(backend.state).toBe('up');
      expect(await backend.get('in-db-2')).toBe('yes');
      await backend.close();

      const log = captureLogger();
      const wrong = new RedisBackend({
        host: '127.0.0.1',
        port: server.port,
        username: 'cacher',
        password: 'nope',
      });
      await wrong.open({ networkId: 'default', logger: log.logger });
      try {
        expect(wrong.state).not.toBe('up');
        await expect(wrong.get('in-db-2')).rejects.toMatchObject({ code: 'BACKEND_ERROR' });
      } finally {
        await wrong.close();
      }
    } finally {
      await server.stop();
    }
  });

  it('close() leaves no socket or timer behind, also while reconnecting', async () => {
    const server = await startRedisServer();
    try {
      await new Promise((r) => setTimeout(r, 50)); // let the harness' PING socket close
      const sockets = resources('TCPSocketWrap');
      const timers = resources('Timeout');
      const up = new RedisBackend({ url: server.url });
      await up.open();
      await up.set('a', 1, 5);
      expect(resources('TCPSocketWrap')).toBeGreaterThan(sockets);
      await up.close();
      const down = new RedisBackend({ port: await deadPort() });
      await down.open();
      expect(down.state).toBe('down');
      await down.close();
      await new Promise((r) => setTimeout(r, 50));
      expect(resources('TCPSocketWrap')).toBe(sockets);
      expect(resources('Timeout')).toBeLessThanOrEqual(timers);
      expect(up.state).toBe('closed');
    } finally {
      await server.stop();
    }
  });
});
