/**
 * RedisBackend over TLS (rediss://) against a redis-server serving TLS only, with a
 * self-signed certificate made by openssl. When the local redis-server build has
 * no TLS support, the test says so loudly and skips (under CI=true too: TLS is an
 * optional build feature of Redis, the plain tests still run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../../src/cache/backends/redis.js';
import {
  captureLogger,
  type RedisServer,
  redisAvailable,
  startRedisServer,
  TlsUnsupportedError,
} from '../../helpers/redis-server.js';

const available = redisAvailable();

let server: RedisServer | undefined;
let unsupported: string | undefined;
if (available) {
  try {
    server = await startRedisServer({ tls: true });
  } catch (err) {
    if (!(err instanceof TlsUnsupportedError)) throw err;
    unsupported = err.message;
    console.warn(
      `\n${'!'.repeat(100)}\n!!! SKIPPING REDIS TLS TESTS: this redis-server build or machine cannot serve TLS.\n!!! ${unsupported}\n${'!'.repeat(100)}\n`,
    );
  }
}

describe.skipIf(!server)('RedisBackend over TLS (rediss://)', () => {
  beforeAll(() => {
    expect(server?.url.startsWith('rediss://')).toBe(true);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('round-trips values through rediss:// with the self-signed CA trusted', async () => {
    const s = server!;
    const backend = new RedisBackend({ url: s.url, tls: { ca: s.tlsFiles!.ca } });
    const log = captureLogger();
    await backend.open({ networkId: 'default', logger: log.logger });
    try {
      expect(backend.state).toBe('up');
      const value = { at: new Date(7), n: 3n, bytes: Buffer.from('tls') };
      await backend.set('cache:default/secure/get:1', value, 30);
      expect(await backend.get('cache:default/secure/get:1')).toEqual(value);
      // The server only speaks TLS: the stored value is visible through a TLS redis-cli.
      expect((await s.cli('EXISTS', 'cache:default/secure/get:1')).trim()).toBe('1');
      expect(await backend.clear('cache:default/secure/')).toBe(1);
    } finally {
      await backend.close();
    }
  });

  it('refuses an untrusted certificate without throwing from open, and fails fast', async () => {
    const s = server!;
    const log = captureLogger();
    const backend = new RedisBackend({ url: s.url, maxReconnectDelayMs: 500 });
    await backend.open({ networkId: 'default', logger: log.logger });
    try {
      expect(backend.state).toBe('down');
      await expect(backend.get('x')).rejects.toMatchObject({ code: 'BACKEND_ERROR' });
      const warn = log.records.find((r) => r.msg.startsWith('Redis unavailable'));
      expect(String(warn?.err)).toMatch(/self[- ]signed|certificate/i);
    } finally {
      await backend.close();
    }
  });

  it('a plain redis:// client cannot talk to the TLS port', async () => {
    const s = server!;
    const backend = new RedisBackend({ host: s.host, port: s.port, connectTimeoutMs: 300 });
    await backend.open();
    try {
      expect(backend.state).not.toBe('up');
      await expect(backend.set('x', 1, 1)).rejects.toMatchObject({ code: 'BACKEND_ERROR' });
    } finally {
      await backend.close();
    }
  });
});
